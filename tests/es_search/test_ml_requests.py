"""What the typed Elasticsearch client sends for each ML call, and what the project makes of the answers.

The test node has no ML, so a small HTTP server on 127.0.0.1 stands in for a remote ML node: it records each
request's method, path, query parameters and JSON body, and answers with the documented JSON shapes of
tests/support/ml_responses.py. A real client built by `es_search.client.build_client` talks to it; nothing of
the project is mocked.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest

from es_search.cli.model import register as register_model_commands
from es_search.client import build_client
from es_search.encoders.elasticsearch import ElasticsearchTextEncoder
from es_search.ml.deployment import deployment_started, deployment_state, start_deployment, wait_until_started
from es_search.ml.errors import MLUnavailable
from es_search.ml.infer import infer_texts
from es_search.ml.licence import check_ml_available
from es_search.ml.models import delete_model, get_model_config
from es_search.vectors import l2_normalise
from tests.support.ml_responses import (
    ERROR_LICENCE,
    ERROR_NO_HANDLER,
    ERROR_NOT_ALLOCATED,
    ERROR_NOT_FOUND,
    INFER_DOC_ERROR,
    INFER_TWO_TRUNCATED,
    LICENCE_BASIC,
    MODEL_CONFIG,
    MODEL_ID,
    STATS_FAILED,
    STATS_NOT_DEPLOYED,
    STATS_STARTED,
    STATS_STARTING,
)

MODEL_PATH = f"/_ml/trained_models/{MODEL_ID}"
LICENCE_TRIAL = {"license": {**LICENCE_BASIC["license"], "type": "trial"}}
ML_INFO = {"defaults": {"anomaly_detectors": {}, "datafeeds": {}}, "upgrade_mode": False,
           "native_code": {"version": "9.5.4", "build_hash": "abc"}, "limits": {"total_ml_memory": "2gb"}}


@dataclass(frozen=True)
class Sent:
    """One request as it reached the stand-in: the path still percent-encoded, the query decoded."""

    method: str
    path: str
    params: dict[str, str]
    body: object


Answer = tuple[int, object] | Callable[[Sent], tuple[int, object]]


class StandInMLNode:
    """An HTTP server answering like an ML node with canned JSON per method and path (glob patterns allowed)."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self._answers: dict[tuple[str, str], list[Answer]] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def answer(self, method: str, path: str, *answers: Answer) -> None:
        """Answer `method path` with `answers` in turn, the last one from then on."""
        self._answers[(method, path)] = list(answers)

    def requests(self) -> list[tuple[str, str]]:
        return [(s.method, s.path) for s in self.sent]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _reply(self, sent: Sent) -> tuple[int, object]:
        for (method, pattern), queue in self._answers.items():
            if method == sent.method and fnmatch.fnmatchcase(sent.path, pattern):
                answer = queue.pop(0) if len(queue) > 1 else queue[0]
                return answer(sent) if callable(answer) else answer
        return 400, {"error": f"the stand-in has no answer for {sent.method} {sent.path}"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        node = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                url = urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                sent = Sent(self.command, url.path, dict(parse_qsl(url.query, keep_blank_values=True)),
                            json.loads(raw) if raw else None)
                node.sent.append(sent)
                status, body = node._reply(sent)
                data = json.dumps(body).encode("utf-8")
                self.send_response(status)
                # The client refuses answers that do not say they come from Elasticsearch.
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args) -> None:
                pass

        return Handler


@pytest.fixture
def ml_node():
    node = StandInMLNode()
    yield node
    node.close()


@pytest.fixture
def node_settings(base_settings, ml_node, tmp_path):
    return base_settings.with_overrides(es_url=ml_node.url, data_dir=tmp_path / "data")


@pytest.fixture
def client(node_settings):
    es = build_client(node_settings)
    yield es
    es.close()


# --------------------------------------------------------------------------- _infer


def test_infer_sends_one_doc_per_text(ml_node, client):
    ml_node.answer("POST", f"{MODEL_PATH}/_infer", (200, INFER_TWO_TRUNCATED))
    vectors = infer_texts(client, MODEL_ID, ["ein roter Fuchs", "雪"], timeout="15s")
    assert vectors.dtype == np.float32 and vectors.tolist() == [[1, 2, 2, 0], [0, 0, 3, 4]]  # raw, as returned
    (sent,) = ml_node.sent
    assert (sent.method, sent.path, sent.params) == ("POST", f"{MODEL_PATH}/_infer", {"timeout": "15s"})
    assert sent.body == {"docs": [{"text_field": "ein roter Fuchs"}, {"text_field": "雪"}]}

    ml_node.answer("POST", "/_ml/trained_models/*/_infer", (404, ERROR_NOT_FOUND))
    with pytest.raises(MLUnavailable, match="imgsearch model upload"):
        infer_texts(client, "a/b c", ["x"])
    assert ml_node.sent[-1].path == "/_ml/trained_models/a%2Fb%20c/_infer"
    with pytest.raises(ValueError):
        infer_texts(client, MODEL_ID, [])
    with pytest.raises(ValueError, match="IMGSEARCH_ES_MODEL_ID"):
        infer_texts(client, " ", ["x"])
    assert len(ml_node.sent) == 2  # refused before sending


def test_infer_failures_become_clear_messages(ml_node, client):
    ml_node.answer("POST", f"{MODEL_PATH}/_infer", (409, ERROR_NOT_ALLOCATED), (200, INFER_DOC_ERROR))
    with pytest.raises(MLUnavailable, match="not deployed and started") as caught:
        infer_texts(client, MODEL_ID, ["a", "b"])
    assert "deployment/_start" in str(caught.value)
    with pytest.raises(MLUnavailable, match="did not return embeddings.*out of memory"):
        infer_texts(client, MODEL_ID, ["a", "b"])


# --------------------------------------------------------------------------- models and deployments


def test_model_and_deployment_requests(ml_node, client):
    ml_node.answer("GET", f"{MODEL_PATH}/_stats", (200, STATS_STARTING))
    ml_node.answer("GET", MODEL_PATH, (200, MODEL_CONFIG))
    ml_node.answer("POST", f"{MODEL_PATH}/deployment/_start", (200, {"assignment": {"task_parameters": {}}}))
    ml_node.answer("POST", f"{MODEL_PATH}/deployment/_stop", (200, {"stopped": True}))
    ml_node.answer("DELETE", MODEL_PATH, (200, {"acknowledged": True}))

    assert deployment_state(client, MODEL_ID) == "starting"
    assert get_model_config(client, MODEL_ID)["inference_config"]["text_embedding"]["embedding_size"] == 512
    start_deployment(client, MODEL_ID, timeout_s=90, allocations=2, threads=4)
    delete_model(client, MODEL_ID)

    assert ml_node.sent == [
        Sent("GET", f"{MODEL_PATH}/_stats", {}, None),
        Sent("GET", MODEL_PATH, {"include": "definition_status"}, None),
        Sent("POST", f"{MODEL_PATH}/deployment/_start", {"wait_for": "started", "timeout": "90s",
                                                          "number_of_allocations": "2", "threads_per_allocation": "4"},
             None),
        Sent("POST", f"{MODEL_PATH}/deployment/_stop", {}, {"force": True}),  # the 9.x client puts force in the body
        Sent("DELETE", MODEL_PATH, {"force": "true"}, None),
    ]


def test_absence_is_an_answer_only_where_it_should_be(ml_node, client):
    ml_node.answer("GET", MODEL_PATH, (404, ERROR_NOT_FOUND))
    ml_node.answer("POST", f"{MODEL_PATH}/deployment/_stop", (409, {"error": {
        "type": "status_exception", "reason": f"Could not find any deployment for [{MODEL_ID}]"}, "status": 409}))
    ml_node.answer("DELETE", MODEL_PATH, (404, ERROR_NOT_FOUND))
    ml_node.answer("GET", f"{MODEL_PATH}/_stats", (404, ERROR_NOT_FOUND), (400, ERROR_NO_HANDLER))

    assert get_model_config(client, MODEL_ID) is None
    delete_model(client, MODEL_ID)  # nothing to stop, nothing to delete: fine
    assert ml_node.requests()[-2:] == [("POST", f"{MODEL_PATH}/deployment/_stop"), ("DELETE", MODEL_PATH)]
    with pytest.raises(MLUnavailable, match="no trained model"):
        deployment_state(client, MODEL_ID)
    assert deployment_started(client, MODEL_ID) is False  # "auto" falls back to local encoding, no exception


def test_start_deployment_answers(ml_node, client):
    already = {"error": {"type": "status_exception", "reason": f"Could not start model deployment because an "
                                                                 f"existing deployment with the same id [{MODEL_ID}] exist"},
               "status": 409}
    timed_out = {"error": {"type": "elasticsearch_timeout_exception",
                           "reason": "Timed out after [90s] waiting for model deployment to start"}, "status": 408}
    ml_node.answer("POST", f"{MODEL_PATH}/deployment/_start", (409, already), (408, timed_out), (403, ERROR_LICENCE))
    start_deployment(client, MODEL_ID)  # already there
    start_deployment(client, MODEL_ID)  # still starting: the caller polls
    with pytest.raises(MLUnavailable, match="Platinum"):
        start_deployment(client, MODEL_ID)
    assert [s.params for s in ml_node.sent] == [{"wait_for": "started", "timeout": "60s"}] * 3


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_until_started_polls_stats(ml_node, client):
    ml_node.answer("GET", f"{MODEL_PATH}/_stats", (200, STATS_NOT_DEPLOYED), (200, STATS_STARTING), (200, STATS_STARTED))
    clock = FakeClock()
    assert wait_until_started(client, MODEL_ID, timeout_s=60, poll_s=2.0, clock=clock, sleep=clock.sleep) == "started"
    assert ml_node.requests() == [("GET", f"{MODEL_PATH}/_stats")] * 3 and clock.sleeps == [2.0, 2.0]

    ml_node.answer("GET", f"{MODEL_PATH}/_stats", (200, STATS_STARTING), (200, STATS_FAILED))
    with pytest.raises(MLUnavailable, match=r"failed to start: not enough memory on node \[ml-0\]"):
        wait_until_started(client, MODEL_ID, timeout_s=60, clock=clock, sleep=clock.sleep)

    ml_node.answer("GET", f"{MODEL_PATH}/_stats", (200, STATS_STARTING))
    clock = FakeClock()
    with pytest.raises(MLUnavailable, match="did not start within 5 s .state: starting."):
        wait_until_started(client, MODEL_ID, timeout_s=5, poll_s=2.0, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == [2.0, 2.0, 2.0]


# --------------------------------------------------------------------------- ML and licence


def test_check_ml_available(ml_node, client):
    ml_node.answer("GET", "/_ml/info", (200, ML_INFO))
    ml_node.answer("GET", "/_license", (200, LICENCE_BASIC), (200, LICENCE_TRIAL))
    with pytest.raises(MLUnavailable, match="licence .* is 'basic' .active.; deploying a trained model needs"):
        check_ml_available(client)
    assert check_ml_available(client) == {"licence": "trial", "ml_info": ML_INFO}
    assert ml_node.requests() == [("GET", "/_ml/info"), ("GET", "/_license")] * 2

    ml_node.answer("GET", "/_ml/info", (400, ERROR_NO_HANDLER))
    with pytest.raises(MLUnavailable, match="has no machine learning"):
        check_ml_available(client)
    assert ml_node.requests()[-1] == ("GET", "/_ml/info")  # the licence is not asked for


# --------------------------------------------------------------------------- the text encoder


def _vector_per_text(sent: Sent) -> tuple[int, dict]:
    """Text "t<n>" gets the raw vector [1, n, 0]: rows come back in order and not unit length."""
    rows = [[1.0, float(doc["text_field"][1:]), 0.0] for doc in sent.body["docs"]]
    return 200, {"inference_results": [{"predicted_value": row} for row in rows]}


def test_elasticsearch_text_encoder_batches_and_normalises(ml_node, node_settings):
    config = json.loads(json.dumps(MODEL_CONFIG))
    config["trained_model_configs"][0]["inference_config"]["text_embedding"]["embedding_size"] = 3
    ml_node.answer("GET", MODEL_PATH, (200, config))
    ml_node.answer("POST", f"{MODEL_PATH}/_infer", _vector_per_text)
    settings = node_settings.with_overrides(batch_size=32, es_request_timeout=7.0)
    encoder = ElasticsearchTextEncoder(settings, build_client(settings))

    assert encoder.dims == 3
    texts = [f"t{n}" for n in range(20)]
    vectors = encoder.encode_texts(texts)
    assert vectors.dtype == np.float32 and vectors.shape == (20, 3)
    assert np.allclose(vectors, l2_normalise(np.array([[1, n, 0] for n in range(20)])))
    infers = [s for s in ml_node.sent if s.path.endswith("/_infer")]
    assert [len(s.body["docs"]) for s in infers] == [16, 4]  # at most 16 texts per call
    assert {s.params["timeout"] for s in infers} == {"7s"}
    assert ml_node.requests()[0] == ("GET", MODEL_PATH)


def test_elasticsearch_text_encoder_checks_the_size_against_the_config(ml_node, node_settings):
    ml_node.answer("GET", MODEL_PATH, (200, MODEL_CONFIG))  # says 512
    ml_node.answer("POST", f"{MODEL_PATH}/_infer", _vector_per_text)
    encoder = ElasticsearchTextEncoder(node_settings, build_client(node_settings))
    assert encoder.dims == 512
    with pytest.raises(MLUnavailable, match="returned 3-d vectors, its config says 512"):
        encoder.encode_texts(["t1"])


# --------------------------------------------------------------------------- imgsearch model upload


def test_model_upload_command_imports_starts_and_waits(ml_node, node_settings, tiny_models, capsys):
    """The whole upload against the stand-in: checks first, then eland's import, then start and wait."""
    def model_config(_sent: Sent) -> tuple[int, dict]:
        put = [s for s in ml_node.sent if (s.method, s.path) == ("PUT", MODEL_PATH)]
        if not put:
            return 404, ERROR_NOT_FOUND
        return 200, {"count": 1, "trained_model_configs": [{**put[0].body, "model_id": MODEL_ID, "fully_defined": True}]}

    ml_node.answer("GET", "/_nodes/_local/_none", (200, {"cluster_name": "ml", "nodes": {"n1": {"version": "9.5.4"}}}))
    ml_node.answer("GET", "/_cluster/health", (200, {"cluster_name": "ml", "status": "green"}))
    ml_node.answer("GET", "/_ml/info", (200, ML_INFO))
    ml_node.answer("GET", "/_license", (200, LICENCE_TRIAL))
    ml_node.answer("GET", "/_nodes/_all/_none", (200, {"nodes": {"n1": {"version": "9.5.4"}, "n2": {"version": "9.4.0"}}}))
    ml_node.answer("GET", MODEL_PATH, model_config)
    ml_node.answer("PUT", MODEL_PATH, (200, {"model_id": MODEL_ID}))
    ml_node.answer("PUT", f"{MODEL_PATH}/definition/*", (200, {"acknowledged": True}))
    ml_node.answer("PUT", f"{MODEL_PATH}/vocabulary", (200, {"acknowledged": True}))
    ml_node.answer("GET", f"{MODEL_PATH}/_stats", (200, STATS_NOT_DEPLOYED), (200, STATS_STARTED))
    ml_node.answer("POST", f"{MODEL_PATH}/deployment/_start", (200, {"assignment": {}}))

    parser = argparse.ArgumentParser()
    register_model_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["model", "upload", "--source", str(tiny_models.text), "--model-id", MODEL_ID,
                              "--wait", "30", "--threads", "2"])
    assert args.func(args, node_settings) == 0

    parts = [s for s in ml_node.sent if fnmatch.fnmatchcase(s.path, f"{MODEL_PATH}/definition/*")]
    assert ml_node.requests() == [
        ("GET", "/_nodes/_local/_none"), ("GET", "/_cluster/health"),  # the cluster answers at all
        ("GET", "/_ml/info"), ("GET", "/_license"),  # ML and its licence, before the slow tracing
        ("GET", MODEL_PATH), ("GET", "/_nodes/_all/_none"), ("GET", MODEL_PATH),
        ("PUT", MODEL_PATH), *[("PUT", s.path) for s in parts], ("PUT", f"{MODEL_PATH}/vocabulary"),
        ("GET", f"{MODEL_PATH}/_stats"), ("POST", f"{MODEL_PATH}/deployment/_start"), ("GET", f"{MODEL_PATH}/_stats"),
        ("GET", MODEL_PATH),
    ]
    config = next(s.body for s in ml_node.sent if (s.method, s.path) == ("PUT", MODEL_PATH))
    assert config["input"] == {"field_names": ["text_field"]}
    assert config["inference_config"]["text_embedding"]["tokenization"]["bert"]["max_sequence_length"] == 128
    assert parts and [p.path.rsplit("/", 1)[1] for p in parts] == [str(i) for i in range(len(parts))]
    assert {p.body["total_parts"] for p in parts} == {len(parts)} and all(p.body["definition"] for p in parts)
    assert "[UNK]" in next(s.body for s in ml_node.sent if s.path.endswith("/vocabulary"))["vocabulary"]
    start = next(s for s in ml_node.sent if s.path.endswith("/deployment/_start"))
    assert start.params == {"wait_for": "started", "timeout": "30s", "threads_per_allocation": "2"}

    out = capsys.readouterr().out
    summary = json.loads(out[out.index("{"):out.rindex("}") + 1])
    assert summary == {"model_id": MODEL_ID, "source": str(tiny_models.text), "import": "imported",
                       "deployment": "started", "embedding_size": tiny_models.dims}
    assert "IMGSEARCH_TEXT_BACKEND=elasticsearch" in out
