"""Can this cluster deploy a model at all: the ML endpoints exist, and the licence includes model deployment.

Checked before anything slow (tracing a model takes minutes), so a Basic cluster or one without the ML
plugin fails in a second with a sentence saying why.
"""

from __future__ import annotations

from elasticsearch import ApiError, Elasticsearch

from es_search.ml.errors import MLUnavailable, failure_of
from es_search.ml.messages import explain_failure, licence_message, no_ml_message, node_url

# Subscriptions that include ML model deployment on self-managed clusters (the ML APIs are Platinum features).
ML_LICENCES = ("platinum", "enterprise", "trial")


def licence_allows_ml(licence_body: dict) -> tuple[bool, str, str]:
    """(allowed, type, status) from `GET _license`: model deployment needs an active Platinum, Enterprise or trial."""
    licence = licence_body.get("license") or {}
    kind = str(licence.get("type", "unknown")).lower()
    status = str(licence.get("status", "unknown")).lower()
    return kind in ML_LICENCES and status == "active", kind, status


def check_ml_available(es: Elasticsearch) -> dict:
    """`{"licence": type, "ml_info": ...}` when this cluster can deploy models, else MLUnavailable saying why."""
    url = node_url(es)
    try:
        info = es.ml.info().body
    except ApiError as exc:
        failure = failure_of(exc)
        if failure.no_handler or failure.status in (400, 404, 405):
            raise MLUnavailable(no_ml_message(url, failure)) from None
        raise MLUnavailable(explain_failure(failure, "", url)) from None
    try:
        licence = es.license.get().body
    except ApiError as exc:
        raise MLUnavailable(f"could not read the licence of Elasticsearch at {url}: "
                            f"{explain_failure(failure_of(exc), '', url)}") from None
    allowed, kind, status = licence_allows_ml(licence)
    if not allowed:
        raise MLUnavailable(licence_message(url, kind, status))
    return {"licence": kind, "ml_info": info}
