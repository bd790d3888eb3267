"""Elasticsearch machine learning for the text model: is ML there, is the model deployed, `_infer` calls.

Requests are built and responses parsed by pure functions (`*_request`, `parse_*`), checked against the
documented response shapes; the functions that take `es` send them. Importing and tracing the model with
eland lives in `es_search.ml_import`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

import numpy as np
from elasticsearch import ApiError, Elasticsearch, TransportError

from es_search.encoders.base import EncoderUnavailable

# The input field eland gives NLP models (`input.field_names`), which `_infer` docs must use.
INFER_FIELD = "text_field"
# Subscriptions that include ML model deployment on self-managed clusters (the ML APIs are Platinum features).
ML_LICENCES = ("platinum", "enterprise", "trial")
JSON_HEADERS = {"accept": "application/json", "content-type": "application/json"}
LOCAL_HINT = "use IMGSEARCH_TEXT_BACKEND=local (the default) to encode text in the app"


class MLUnavailable(EncoderUnavailable):
    """The cluster cannot encode text: no ML, a licence without it, no such model, or no started deployment."""


@dataclass(frozen=True)
class MLRequest:
    """One REST call, as `es.perform_request` takes it."""

    method: str
    path: str
    params: dict = field(default_factory=dict)
    body: dict | None = None


@dataclass(frozen=True)
class ApiFailure:
    """What an Elasticsearch error response says, whatever its shape."""

    status: int
    type: str | None
    reason: str

    @property
    def no_handler(self) -> bool:
        """The endpoint does not exist: the cluster has no ML plugin, or ML is disabled."""
        return "no handler found" in self.reason

    @property
    def licence(self) -> bool:
        return self.status == 403 and "license" in self.reason.lower()


# --------------------------------------------------------------------------- requests (pure)


def _model_path(model_id: str) -> str:
    if not model_id or not model_id.strip():
        raise ValueError("the Elasticsearch model id is empty; set IMGSEARCH_ES_MODEL_ID")
    return f"/_ml/trained_models/{quote(model_id, safe='')}"


def infer_request(model_id: str, texts: Sequence[str], timeout: str = "30s") -> MLRequest:
    """`POST _ml/trained_models/<id>/_infer` with one doc per text (each is tokenized and run on its own)."""
    if not texts:
        raise ValueError("no texts to encode")
    docs = [{INFER_FIELD: str(text)} for text in texts]
    return MLRequest("POST", f"{_model_path(model_id)}/_infer", {"timeout": timeout}, {"docs": docs})


def stats_request(model_id: str) -> MLRequest:
    return MLRequest("GET", f"{_model_path(model_id)}/_stats")


def model_config_request(model_id: str) -> MLRequest:
    return MLRequest("GET", _model_path(model_id), {"include": "definition_status"})


def start_deployment_request(model_id: str, *, wait_for: str = "started", timeout: str = "60s",
                             allocations: int | None = None, threads: int | None = None) -> MLRequest:
    params: dict = {"wait_for": wait_for, "timeout": timeout}
    if allocations is not None:
        params["number_of_allocations"] = allocations
    if threads is not None:
        params["threads_per_allocation"] = threads
    return MLRequest("POST", f"{_model_path(model_id)}/deployment/_start", params)


def stop_deployment_request(model_id: str) -> MLRequest:
    return MLRequest("POST", f"{_model_path(model_id)}/deployment/_stop", {"force": "true"})


def delete_model_request(model_id: str) -> MLRequest:
    return MLRequest("DELETE", _model_path(model_id), {"force": "true"})


# --------------------------------------------------------------------------- parsing (pure)


def parse_failure(status: int, body) -> ApiFailure:
    """Error type and reason from `{"error": {"type", "reason", "root_cause"}}`, `{"error": "text"}` or text."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            root = (error.get("root_cause") or [{}])[0]
            return ApiFailure(status, error.get("type") or root.get("type"),
                              str(error.get("reason") or root.get("reason") or error))
        return ApiFailure(status, None, str(error))
    return ApiFailure(status, None, str(body or f"HTTP {status}"))


def failure_of(exc: ApiError) -> ApiFailure:
    return parse_failure(exc.meta.status, exc.body)


class InferError(ValueError):
    """An `_infer` response that does not hold one vector per text."""


def parse_infer_response(body: dict, expected: int) -> np.ndarray:
    """(expected, dims) float32 vectors from `{"inference_results": [{"predicted_value": [...]}, ...]}`.

    A per-document `error` or `warning` entry, a missing vector or ragged sizes raise InferError.
    """
    results = body.get("inference_results") if isinstance(body, dict) else None
    if not isinstance(results, list):
        raise InferError("the _infer response has no inference_results")
    if len(results) != expected:
        raise InferError(f"asked for {expected} vectors, _infer returned {len(results)} results")
    rows = []
    for i, result in enumerate(results):
        for problem in ("error", "warning"):
            if problem in result:
                detail = result[problem]
                reason = detail.get("reason", detail) if isinstance(detail, dict) else detail
                raise InferError(f"_infer {problem} for text {i}: {reason}")
        value = result.get("predicted_value")
        if not isinstance(value, list) or not value or not all(isinstance(x, (int, float)) for x in value):
            raise InferError(f"_infer result {i} holds no embedding (predicted_value: {str(value)[:80]})")
        rows.append(value)
    if len({len(row) for row in rows}) != 1:
        raise InferError(f"_infer returned vectors of different sizes: {sorted({len(r) for r in rows})}")
    return np.asarray(rows, dtype=np.float32)


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


def parse_model_config(config_body: dict, model_id: str) -> dict | None:
    """The trained model config of `model_id` from `GET _ml/trained_models/<id>`, or None."""
    for config in config_body.get("trained_model_configs") or []:
        if config.get("model_id") == model_id:
            return config
    return None


def embedding_size(config: dict) -> int | None:
    """`inference_config.text_embedding.embedding_size` (set by eland for Elasticsearch 8.8 and later)."""
    text_embedding = (config.get("inference_config") or {}).get("text_embedding") or {}
    size = text_embedding.get("embedding_size")
    return int(size) if isinstance(size, int) and size > 0 else None


def licence_allows_ml(licence_body: dict) -> tuple[bool, str, str]:
    """(allowed, type, status) from `GET _license`: model deployment needs an active Platinum, Enterprise or trial."""
    licence = licence_body.get("license") or {}
    kind = str(licence.get("type", "unknown")).lower()
    status = str(licence.get("status", "unknown")).lower()
    return kind in ML_LICENCES and status == "active", kind, status


def parse_version(text: str) -> tuple[int, int, int]:
    """"9.5.4" or "9.1.0-SNAPSHOT" → (9, 5, 4)."""
    numbers = [int("".join(ch for ch in part if ch.isdigit()) or 0) for part in text.split("-")[0].split(".")[:3]]
    return tuple((numbers + [0, 0, 0])[:3])  # type: ignore[return-value]


# --------------------------------------------------------------------------- messages (pure)


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


# --------------------------------------------------------------------------- I/O


def send(es: Elasticsearch, request: MLRequest):
    """Send a built request; returns the response body."""
    headers = JSON_HEADERS if request.body is not None else {"accept": "application/json"}
    return es.perform_request(request.method, request.path, params=request.params or None, headers=headers,
                              body=request.body).body


def node_url(es: Elasticsearch) -> str:
    try:
        node = es.transport.node_pool.get().config
        return f"{node.scheme}://{node.host}:{node.port}"
    except Exception:  # only used in messages
        return "the configured URL"


def check_ml_available(es: Elasticsearch) -> dict:
    """`{"licence": type, "ml_info": ...}` when this cluster can deploy models, else MLUnavailable saying why."""
    url = node_url(es)
    try:
        info = send(es, MLRequest("GET", "/_ml/info"))
    except ApiError as exc:
        failure = failure_of(exc)
        if failure.no_handler or failure.status in (400, 404, 405):
            raise MLUnavailable(no_ml_message(url, failure)) from None
        raise MLUnavailable(explain_failure(failure, "", url)) from None
    try:
        licence = send(es, MLRequest("GET", "/_license"))
    except ApiError as exc:
        raise MLUnavailable(f"could not read the licence of Elasticsearch at {url}: "
                            f"{explain_failure(failure_of(exc), '', url)}") from None
    allowed, kind, status = licence_allows_ml(licence)
    if not allowed:
        raise MLUnavailable(licence_message(url, kind, status))
    return {"licence": kind, "ml_info": info}


def cluster_version(es: Elasticsearch) -> tuple[int, int, int]:
    """The lowest node version (the nodes API works where `GET /` does not)."""
    nodes = es.nodes.info(node_id="_all", metric="_none", filter_path="nodes.*.version").get("nodes", {})
    versions = [parse_version(n["version"]) for n in nodes.values() if n.get("version")]
    if not versions:
        raise MLUnavailable("could not read the Elasticsearch version from the nodes API")
    return min(versions)


def get_model_config(es: Elasticsearch, model_id: str) -> dict | None:
    """The trained model's config (with `fully_defined`), or None when there is no such model."""
    try:
        return parse_model_config(send(es, model_config_request(model_id)), model_id)
    except ApiError as exc:
        if exc.meta.status == 404:
            return None
        raise MLUnavailable(explain_failure(failure_of(exc), model_id, node_url(es))) from None


def deployment_state(es: Elasticsearch, model_id: str) -> str | None:
    """"started", "starting", "stopping", ... or None when the model has no deployment. Raises MLUnavailable."""
    try:
        return parse_deployment_state(send(es, stats_request(model_id)), model_id)
    except ApiError as exc:
        raise MLUnavailable(explain_failure(failure_of(exc), model_id, node_url(es))) from None


def deployment_started(es: Elasticsearch, model_id: str) -> bool:
    """True when `model_id` has a started deployment. False — never an exception — when ML is missing,
    forbidden, the model unknown, or the cluster unreachable: "auto" then falls back to local encoding."""
    try:
        return parse_deployment_state(send(es, stats_request(model_id)), model_id) == "started"
    except (ApiError, TransportError, ValueError):
        return False


def start_deployment(es: Elasticsearch, model_id: str, *, timeout_s: float = 60,
                     allocations: int | None = None, threads: int | None = None) -> None:
    """Start the deployment (an existing one is fine: Elasticsearch answers 409)."""
    request = start_deployment_request(model_id, timeout=f"{max(1, int(timeout_s))}s",
                                       allocations=allocations, threads=threads)
    try:
        es.options(request_timeout=timeout_s + 30).perform_request(
            request.method, request.path, params=request.params, headers={"accept": "application/json"})
    except ApiError as exc:
        failure = failure_of(exc)
        if failure.status == 409 and ("already" in failure.reason or "exist" in failure.reason):
            return
        # wait_for=started can time out while the deployment keeps starting; the caller polls after this.
        if failure.status == 408 or "timed out" in failure.reason.lower():
            return
        raise MLUnavailable(explain_failure(failure, model_id, node_url(es))) from None


def deployment_progress(stats_body: dict, model_id: str) -> tuple[str, str | None]:
    """("started", None), ("failed", reason) or ("waiting", state) for one `_stats` response while starting."""
    state = parse_deployment_state(stats_body, model_id)
    if state == "started":
        return "started", None
    reason = parse_deployment_failure(stats_body, model_id)
    if reason:
        return "failed", reason
    return "waiting", state


def wait_until_started(es: Elasticsearch, model_id: str, timeout_s: float = 300, poll_s: float = 2.0,
                       clock: Callable[[], float] = time.monotonic,
                       sleep: Callable[[float], None] = time.sleep) -> str:
    """Poll `_stats` until the deployment is started; MLUnavailable on failure or after `timeout_s`."""
    deadline = clock() + timeout_s
    while True:
        try:
            body = send(es, stats_request(model_id))
        except ApiError as exc:
            raise MLUnavailable(explain_failure(failure_of(exc), model_id, node_url(es))) from None
        outcome, detail = deployment_progress(body, model_id)
        if outcome == "started":
            return "started"
        if outcome == "failed":
            raise MLUnavailable(f"the deployment of {model_id!r} failed to start: {detail}")
        if clock() >= deadline:
            raise MLUnavailable(f"the deployment of {model_id!r} did not start within {timeout_s:.0f} s "
                                f"(state: {detail or 'not deployed'}); see GET _ml/trained_models/{model_id}/_stats")
        sleep(poll_s)


def infer_texts(es: Elasticsearch, model_id: str, texts: Sequence[str], timeout: str = "30s") -> np.ndarray:
    """Raw (unnormalised) vectors for `texts` from the deployed model; MLUnavailable with a clear message."""
    try:
        body = send(es, infer_request(model_id, texts, timeout))
    except ApiError as exc:
        raise MLUnavailable(explain_failure(failure_of(exc), model_id, node_url(es))) from None
    try:
        return parse_infer_response(body, len(texts))
    except InferError as exc:
        raise MLUnavailable(f"the model {model_id!r} did not return embeddings: {exc}") from None
