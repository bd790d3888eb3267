"""A bad day: the cluster stops during searches, and comes back; the web app recovers by itself.

A short-lived node of this test's own (tests/support/own_nodes.py: its own ports and data folder; the
session's node is not touched) is started and a few photos are ingested. The web app searches it. The
node is killed with SIGKILL (no shutdown of any kind) while a thread keeps searching: every answer is a 200
or a 503 JSON, never a 500. While it is down, /api/search and /api/health answer 503 JSON. The node is
started again on the same data folder, and the same app, never restarted, answers 200 with the same results.

The vectors are plain `hnsw` floats: documents replayed from the translog after the kill land in new
segments, and int8 quantises per segment, which could move near-ties and blur "the same results".
"""

from __future__ import annotations

import threading

import pytest

from es_search import node
from es_search.client import build_client
from ingest.runner import run_ingest
from tests.support.ingest_cases import jpeg
from tests.support.local_cluster import kill_node, running_nodes
from tests.support.own_nodes import plain_settings
from webapp import create_app

pytestmark = pytest.mark.slow

PHOTOS = 6
QUERIES = ["a photo", "red", "一张照片"]


def _answers(client) -> dict[str, list[tuple[str, float]]]:
    answers = {}
    for query in QUERIES:
        response = client.get("/api/search", query_string={"q": query, "size": PHOTOS})
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        answers[query] = [(hit["id"], round(hit["similarity"], 5)) for hit in response.json["hits"]]
    return answers


def _assert_unavailable(response) -> None:
    assert response.status_code == 503 and response.is_json, response.get_data(as_text=True)[:500]


@pytest.mark.es
def test_searches_answer_503_while_the_cluster_is_down_and_recover_without_a_restart(
        base_settings, tiny_models, tmp_path):
    settings = plain_settings(base_settings, tmp_path / "data", index_alias="outage", vector_index_type="hnsw",
                              image_model=str(tiny_models.image), text_model=str(tiny_models.text))
    photos = tmp_path / "photos"
    photos.mkdir()
    for seed in range(PHOTOS):
        (photos / f"photo-{seed}.jpg").write_bytes(jpeg(seed + 40))
    with running_nodes(settings, log=print):
        summary = run_ingest(settings, [photos])
        assert (summary.indexed, summary.failed) == (PHOTOS, 0), summary
        es = build_client(settings)
        es.indices.refresh(index=settings.index_alias)
        es.close()

        app = create_app(settings)
        client = app.test_client()
        before = _answers(client)
        assert all(len(hits) == PHOTOS for hits in before.values())

        # Searches go on while the node is killed: each answer is a 200 or a 503 JSON, never anything else.
        seen: list[tuple[int, dict | None]] = []
        stop = threading.Event()

        def keep_searching() -> None:
            searcher = app.test_client()
            while not stop.is_set():
                response = searcher.get("/api/search", query_string={"q": "a photo"})
                seen.append((response.status_code, response.json if response.is_json else None))

        thread = threading.Thread(target=keep_searching, daemon=True)
        thread.start()
        kill_node(node.node_layout(settings))
        down = client.get("/api/search", query_string={"q": "a photo"})
        stop.set()
        thread.join(timeout=120)
        assert not thread.is_alive()

        _assert_unavailable(down)
        assert down.json["error"]["code"] == "elasticsearch_unavailable"
        assert "cannot reach Elasticsearch" in down.json["error"]["message"]
        for query in QUERIES:  # a text not searched before, and the cached ones: the same answer
            _assert_unavailable(client.get("/api/search", query_string={"q": query}))
        _assert_unavailable(client.get("/api/search", query_string={"q": "never asked before"}))
        _assert_unavailable(client.get("/api/facets"))
        health = client.get("/api/health")
        assert health.status_code == 503 and health.json == {"ok": False, "status": "unavailable"}
        assert seen and all(status in (200, 503) for status, _ in seen), sorted({status for status, _ in seen})
        assert all(body is not None and body["error"]["code"] == "elasticsearch_unavailable"
                   for status, body in seen if status == 503)

        node.start(settings, log=print)  # the same data folder; the app is left as it is
        assert _answers(client) == before
        assert client.get("/api/health").status_code == 200
