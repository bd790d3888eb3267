"""Put the traced text model into Elasticsearch ML and start it: check, trace, import, start, wait.

The cluster is checked (ML endpoints, licence) before the slow tracing, so a cluster that cannot run the
model fails in a second. eland's `PyTorchModel` does the import (config, definition parts, vocabulary).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable

from elasticsearch import ApiError, Elasticsearch

from es_search.config import Settings
from es_search.ml.deployment import deployment_state, start_deployment, wait_until_started
from es_search.ml.errors import MLUnavailable
from es_search.ml.licence import check_ml_available
from es_search.ml.messages import explained_error
from es_search.ml.model_id import check_model_id
from es_search.ml.models import delete_model, embedding_size, get_model_config
from es_search.ml.trace import TracedModel, parse_version, trace_text_model


def cluster_version(es: Elasticsearch) -> tuple[int, int, int]:
    """The lowest node version (the nodes API works where `GET /` does not): eland traces for it."""
    nodes = es.nodes.info(node_id="_all", metric="_none", filter_path="nodes.*.version").get("nodes", {})
    versions = [parse_version(n["version"]) for n in nodes.values() if n.get("version")]
    if not versions:
        raise MLUnavailable("could not read the Elasticsearch version from the nodes API")
    return min(versions)


def import_traced_model(es: Elasticsearch, traced: TracedModel, model_id: str, *, replace: bool = False,
                        progress: Callable[[str], None] = print) -> str:
    """Put config, definition and vocabulary; returns "imported" or "exists" (left as it is)."""
    from es_search.ml.trace import eland

    PyTorchModel = eland().PyTorchModel  # noqa: N806 (eland's class)

    existing = get_model_config(es, model_id)
    if existing is not None:
        if not replace and existing.get("fully_defined", True):
            return "exists"
        progress(f"deleting the {'incomplete ' if not replace else ''}model {model_id!r} before importing it again")
        delete_model(es, model_id)
    try:
        PyTorchModel(es, model_id).import_model(model_path=str(traced.model_path), config_path=str(traced.config_path),
                                                vocab_path=str(traced.vocab_path))
    except ApiError as exc:
        raise explained_error(es, exc, model_id) from None
    return "imported"


def upload_text_model(es: Elasticsearch, settings: Settings, *, source: str, model_id: str, replace: bool = False,
                      start: bool = True, wait_s: float = 600, allocations: int | None = None,
                      threads: int | None = None, progress: Callable[[str], None] = print) -> dict:
    """Check ML, trace, import, start and wait. Fails early (MLUnavailable) when the cluster cannot run models."""
    check_model_id(model_id)
    availability = check_ml_available(es)
    progress(f"machine learning is available (licence: {availability['licence']})")
    status = "exists" if _fully_defined(es, model_id) and not replace else None
    traced_size = None
    if status is None:
        version = cluster_version(es)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="eland-", dir=settings.data_dir) as work:
            progress(f"tracing {source} with eland (max {settings.text_max_length} tokens)")
            traced = trace_text_model(source, work, max_length=settings.text_max_length, es_version=version)
            traced_size = traced.embedding_size
            progress(f"importing {model_id!r} ({traced.model_path.stat().st_size / 1e6:.0f} MB)")
            status = import_traced_model(es, traced, model_id, replace=replace, progress=progress)
    else:
        progress(f"{model_id!r} is already in Elasticsearch; --replace imports it again")
    state = deployment_state(es, model_id)
    if start and state != "started":
        progress(f"starting the deployment of {model_id!r} and waiting up to {wait_s:.0f} s")
        start_deployment(es, model_id, timeout_s=min(wait_s, 120), allocations=allocations, threads=threads)
        state = wait_until_started(es, model_id, timeout_s=wait_s)
    config = get_model_config(es, model_id) or {}
    return {"model_id": model_id, "source": source, "import": status, "deployment": state or "not deployed",
            "embedding_size": embedding_size(config) or traced_size}


def _fully_defined(es: Elasticsearch, model_id: str) -> bool:
    config = get_model_config(es, model_id)
    return config is not None and bool(config.get("fully_defined", True))
