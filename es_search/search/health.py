"""What /api/health says: whether searching can work ({ok, status}) and, for those allowed its details, what is
behind it: the index and its documents, the cluster, the models. Never a path on this server."""

from __future__ import annotations

from elasticsearch import exceptions as es_exceptions

from es_search.errors import ClusterUnavailable


def search_health(es, settings, loaded: dict[str, bool], details: bool = False) -> dict:
    """Whether searching can work, for /api/health: {ok, status} and, with `details`, what is behind it
    (index, cluster, models), never a path on this server."""
    from es_search.client import check_cluster

    facts: dict = {"index_alias": settings.index_alias}
    try:
        cluster = check_cluster(es, settings)
    except (ClusterUnavailable, es_exceptions.TransportError, es_exceptions.ApiError) as exc:
        facts["error"] = str(exc)
        return _health(False, "unavailable", facts, details)
    facts["elasticsearch"] = cluster
    facts["models"] = {"text": model_label(settings.text_model),
                       "image": model_label(settings.image_model),
                       **{f"{kind}_loaded": state for kind, state in loaded.items()}}
    try:
        facts["documents"] = es.count(index=settings.index_alias)["count"]
    except es_exceptions.NotFoundError:
        facts["error"] = f"no index behind alias {settings.index_alias!r}; ingest images first"
        return _health(False, "no_index", facts, details)
    except (es_exceptions.TransportError, es_exceptions.ApiError) as exc:
        facts["error"] = f"cannot count documents: {exc}"
        return _health(False, "unavailable", facts, details)
    status = cluster.get("status") if cluster.get("status") in ("green", "yellow", "red") else "unavailable"
    return _health(status in ("green", "yellow"), status, facts, details)


def _health(ok: bool, status: str, facts: dict, details: bool) -> dict:
    report = {"ok": ok, "status": status}
    if details:
        report["details"] = facts
    return report


def model_label(model: str) -> str:
    """A model as the health details name it: a hub name as it is, a local folder by its last part only."""
    return model if "/" not in model and "\\" not in model else model.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
