"""Liveness and readiness, for the operator's orchestrator; both open, both JSON, 200 or 503.

- `/livez`: the process answers. No I/O, so a slow cluster never gets a healthy worker restarted.
- `/readyz`: this worker can serve searches: its text model is loaded, the cluster answers and the index
  behind the alias exists.

Readiness only reports the model, it never loads it: a probe must answer in a moment, and `imgsearch web`
loads the text model in each worker before that worker takes any request (webapp/cli.py, warm_worker),
so a worker whose model failed to load stays unready instead of timing out its probes. The image model
is loaded on the first image search and is reported, not required.
"""

from __future__ import annotations

from elasticsearch import exceptions as es_exceptions
from flask import Blueprint, jsonify

from webapp.context import app_settings, search_service

probes = Blueprint("probes", __name__)
PROBE_TIMEOUT = 2.0  # seconds: an orchestrator's probe gives up soon too


@probes.get("/livez")
def livez():
    return jsonify({"live": True})


@probes.get("/readyz")
def readyz():
    settings = app_settings()
    service = search_service()
    models = service.loaded_models()
    checks = {"model": {"ok": models["text"], **models}}
    es = service.es.options(request_timeout=PROBE_TIMEOUT)
    try:
        health = es.cluster.health()
        checks["elasticsearch"] = {"ok": True, "status": health.get("status")}
        checks["index"] = {"ok": bool(es.indices.exists(index=settings.index_alias)), "alias": settings.index_alias}
    except (es_exceptions.ApiError, es_exceptions.TransportError) as exc:
        # The kind of failure only: an exception's text may carry the cluster's address.
        checks["elasticsearch"] = {"ok": False, "error": type(exc).__name__}
        checks["index"] = {"ok": False, "alias": settings.index_alias}
    ready = all(check["ok"] for check in checks.values())
    return jsonify({"ready": ready, "checks": checks}), 200 if ready else 503
