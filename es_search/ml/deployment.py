"""The text model's deployment: its state from `_stats`, starting it, and waiting until it is started.

`parse_*` and `deployment_progress` read documented `_stats` bodies and do no I/O; the rest call
`es.ml.get_trained_models_stats` and `es.ml.start_trained_model_deployment`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from elasticsearch import ApiError, Elasticsearch, TransportError

from es_search.ml.errors import MLUnavailable, failure_of
from es_search.ml.messages import explain_failure, explained_error, node_url
from es_search.ml.model_id import require_model_id


def _deployments(stats_body: dict, model_id: str) -> list[dict]:
    found = []
    for entry in stats_body.get("trained_model_stats") or []:
        deployments = entry.get("deployment_stats")
        # One object per entry since 8.x; early docs describe a list.
        for deployment in deployments if isinstance(deployments, list) else [deployments] if deployments else []:
            if model_id in (entry.get("model_id"), deployment.get("model_id"), deployment.get("deployment_id")):
                found.append(deployment)
    return found


def parse_deployment_state(stats_body: dict, model_id: str) -> str | None:
    """"started" when any deployment of `model_id` is started, else the first one's state; None when not deployed."""
    states = [d.get("state") for d in _deployments(stats_body, model_id)]
    if "started" in states:
        return "started"
    return next((s for s in states if s), None)


def parse_deployment_failure(stats_body: dict, model_id: str) -> str | None:
    """The reason a deployment cannot start (a node's `routing_state` is `failed`), if one is given."""
    for deployment in _deployments(stats_body, model_id):
        for node in deployment.get("nodes") or []:
            routing = node.get("routing_state") or {}
            if routing.get("routing_state") == "failed":
                return routing.get("reason") or node.get("reason") or "allocation failed"
        if deployment.get("state") == "failed":
            return deployment.get("reason") or "deployment failed"
    return None


def deployment_progress(stats_body: dict, model_id: str) -> tuple[str, str | None]:
    """("started", None), ("failed", reason) or ("waiting", state) for one `_stats` response while starting."""
    state = parse_deployment_state(stats_body, model_id)
    if state == "started":
        return "started", None
    reason = parse_deployment_failure(stats_body, model_id)
    if reason:
        return "failed", reason
    return "waiting", state


def _stats(es: Elasticsearch, model_id: str) -> dict:
    return es.ml.get_trained_models_stats(model_id=require_model_id(model_id)).body


def deployment_state(es: Elasticsearch, model_id: str) -> str | None:
    """"started", "starting", "stopping", ... or None when the model has no deployment. Raises MLUnavailable."""
    try:
        return parse_deployment_state(_stats(es, model_id), model_id)
    except ApiError as exc:
        raise explained_error(es, exc, model_id) from None


def deployment_started(es: Elasticsearch, model_id: str) -> bool:
    """True when `model_id` has a started deployment. False — never an exception — when ML is missing,
    forbidden, the model unknown, or the cluster unreachable: "auto" then falls back to local encoding."""
    try:
        return parse_deployment_state(_stats(es, model_id), model_id) == "started"
    except (ApiError, TransportError, ValueError):
        return False


def start_deployment(es: Elasticsearch, model_id: str, *, timeout_s: float = 60,
                     allocations: int | None = None, threads: int | None = None) -> None:
    """Start the deployment (an existing one is fine: Elasticsearch answers 409)."""
    require_model_id(model_id)
    try:
        es.options(request_timeout=timeout_s + 30).ml.start_trained_model_deployment(
            model_id=model_id, wait_for="started", timeout=f"{max(1, int(timeout_s))}s",
            number_of_allocations=allocations, threads_per_allocation=threads)
    except ApiError as exc:
        failure = failure_of(exc)
        if failure.status == 409 and ("already" in failure.reason or "exist" in failure.reason):
            return
        # wait_for=started can time out while the deployment keeps starting; the caller polls after this.
        if failure.status == 408 or "timed out" in failure.reason.lower():
            return
        raise MLUnavailable(explain_failure(failure, model_id, node_url(es))) from None


def wait_until_started(es: Elasticsearch, model_id: str, timeout_s: float = 300, poll_s: float = 2.0,
                       clock: Callable[[], float] = time.monotonic,
                       sleep: Callable[[float], None] = time.sleep) -> str:
    """Poll `_stats` until the deployment is started; MLUnavailable on failure or after `timeout_s`."""
    deadline = clock() + timeout_s
    while True:
        try:
            body = _stats(es, model_id)
        except ApiError as exc:
            raise explained_error(es, exc, model_id) from None
        outcome, detail = deployment_progress(body, model_id)
        if outcome == "started":
            return "started"
        if outcome == "failed":
            raise MLUnavailable(f"the deployment of {model_id!r} failed to start: {detail}")
        if clock() >= deadline:
            raise MLUnavailable(f"the deployment of {model_id!r} did not start within {timeout_s:.0f} s "
                                f"(state: {detail or 'not deployed'}); see GET _ml/trained_models/{model_id}/_stats")
        sleep(poll_s)
