"""The sentences a user gets when the cluster cannot run the text model: each says what to do next.

Pure text, except `node_url` (reads the client's configured node) and `explained_error`, which joins an
`ApiError` to its sentence for the functions that call Elasticsearch.
"""

from __future__ import annotations

from elasticsearch import ApiError, Elasticsearch

from es_search.ml.errors import ApiFailure, MLUnavailable, failure_of

LOCAL_HINT = "use IMGSEARCH_TEXT_BACKEND=local (the default) to encode text in the app"


def no_ml_message(url: str, failure: ApiFailure) -> str:
    return (f"Elasticsearch at {url} has no machine learning ({failure.reason}), so the text model cannot run "
            f"in the cluster; {LOCAL_HINT}, or use a cluster with ML nodes and a Platinum, Enterprise or trial licence.")


def licence_message(url: str, kind: str, status: str) -> str:
    return (f"the licence of Elasticsearch at {url} is {kind!r} ({status}); deploying a trained model needs an "
            f"active Platinum or Enterprise subscription, or the 30-day trial (POST _license/start_trial?acknowledge=true); "
            f"otherwise {LOCAL_HINT}.")


def model_missing_message(model_id: str) -> str:
    return (f"Elasticsearch has no trained model {model_id!r}; import it with `imgsearch model upload` "
            f"(or make upload-model), or {LOCAL_HINT}.")


def not_started_message(model_id: str, state: str | None) -> str:
    return (f"the trained model {model_id!r} is not deployed and started (state: {state or 'not deployed'}); "
            f"start it with `imgsearch model upload` or POST _ml/trained_models/{model_id}/deployment/_start, "
            f"or {LOCAL_HINT}.")


def explain_failure(failure: ApiFailure, model_id: str, url: str) -> str:
    """One sentence a user can act on for an ML API error."""
    if failure.no_handler:
        return no_ml_message(url, failure)
    if failure.licence:
        return (f"Elasticsearch at {url} refused ML: {failure.reason}; deploying a trained model needs a Platinum "
                f"or Enterprise subscription or the trial; otherwise {LOCAL_HINT}.")
    if failure.status in (401, 403):
        return (f"Elasticsearch at {url} refused the ML request ({failure.reason}); the user needs the "
                f"machine_learning_user role to encode and machine_learning_admin to upload.")
    if failure.status == 404 or failure.type == "resource_not_found_exception":
        return model_missing_message(model_id)
    if failure.status == 409 or "not allocated" in failure.reason or "not deployed" in failure.reason:
        return not_started_message(model_id, None) + f" ({failure.reason})"
    if failure.status == 429:
        return f"the model {model_id!r} is overloaded ({failure.reason}); add allocations or retry."
    return f"Elasticsearch ML request for {model_id!r} failed: HTTP {failure.status} {failure.type or ''} {failure.reason}".strip()


def node_url(es: Elasticsearch) -> str:
    try:
        node = es.transport.node_pool.get().config
        return f"{node.scheme}://{node.host}:{node.port}"
    except Exception:  # only used in messages
        return "the configured URL"


def explained_error(es: Elasticsearch, exc: ApiError, model_id: str) -> MLUnavailable:
    """MLUnavailable carrying the sentence for `exc`; the caller raises it `from None` (the body is in the text)."""
    return MLUnavailable(explain_failure(failure_of(exc), model_id, node_url(es)))
