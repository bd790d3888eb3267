"""A three-node cluster loses a node to SIGKILL in the middle of an ingest, and nothing is lost.

The index has 3 shards and 1 replica (from settings). An ingest of PNGs runs through the command line with
ES_URL naming all three nodes; once it is under way the elected master is killed. The ingest must finish
with every image indexed exactly once; searches (over the JPEGs indexed before, so their answer cannot
change) keep answering the same, and /api/health says yellow; the node comes back, the cluster turns
green, and every document is still there once.

The vectors are plain `hnsw` floats here: each shard copy builds its own segments, and int8 quantises per
segment, so a primary and its replica may order near-ties differently, which would blur "the same results".
"""

from __future__ import annotations

import threading
import time

import pytest

from es_search import node
from es_search.client import build_client
from tests.support.exactly_once import assert_each_path_indexed_once, make_photos, start_ingest
from tests.support.ingest_cases import png
from tests.support.local_cluster import cluster_settings, kill_node, running_nodes

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

BEFORE = 16  # JPEGs indexed before the outage: what the searches look at
DURING = 60  # PNGs indexed while a node is lost
QUERIES = ["a photo", "red", "一张照片"]


@pytest.fixture(scope="module")
def cluster(base_settings, tmp_path_factory):
    settings = cluster_settings(base_settings, tmp_path_factory.mktemp("cluster") / "data")
    started = time.monotonic()
    with running_nodes(settings, log=lambda line: print(line)) as running:
        print(f"3-node cluster up in {time.monotonic() - started:.1f} s")
        yield running


def _searches(client) -> dict[str, list[tuple[str, float]]]:
    answers = {}
    for query in QUERIES:
        response = client.get("/api/search", query_string={"q": query, "format": "JPEG", "size": BEFORE})
        assert response.status_code == 200, response.get_data(as_text=True)
        answers[query] = [(hit["id"], round(hit["similarity"], 5)) for hit in response.json["hits"]]
    return answers


def _master(es) -> str:
    return es.cat.master(format="json")[0]["node"]


def test_a_node_killed_during_an_ingest_loses_nothing(cluster, tiny_models, tmp_path):
    from ingest.runner import run_ingest
    from webapp import create_app

    # The test's own data folder (ingest state, reports); the nodes' folders stay those of `cluster`.
    settings = cluster.with_overrides(
        index_alias="lost-node", data_dir=tmp_path / "data", shards=3, replicas=1, vector_index_type="hnsw",
        image_model=str(tiny_models.image), text_model=str(tiny_models.text), batch_size=2, bulk_chunk=2)
    es = build_client(settings)
    jpegs = make_photos(tmp_path / "before", BEFORE)
    assert run_ingest(settings, [tmp_path / "before"], es=es).indexed == BEFORE
    es.indices.refresh(index=settings.index_alias)
    # Keep the lost node's replicas unassigned while it is away (the default gives up after 1 minute and
    # rebuilds them on the other nodes), so the outage is seen as yellow however slow the machine.
    es.indices.put_settings(index=settings.index_alias, settings={"index.unassigned.node_left.delayed_timeout": "10m"})
    assert es.cluster.health(index=settings.index_alias, wait_for_status="green", timeout="120s")["status"] == "green"
    shards = es.cat.shards(index=settings.index_alias, format="json")
    assert len(shards) == 6 and len({s["node"] for s in shards}) == 3  # 3 primaries + 3 replicas on 3 nodes

    # The operator's view: health with its details (the document count), as a private deployment sets it.
    app = create_app(settings.with_overrides(health_details=True))
    client = app.test_client()
    before = _searches(client)
    assert all(len(hits) == BEFORE for hits in before.values())

    pngs = set()
    (tmp_path / "during").mkdir()
    for seed in range(DURING):
        path = tmp_path / "during" / f"shot-{seed:03d}.png"
        path.write_bytes(png(500 + seed, size=(96, 72)))
        pngs.add(str(path))

    # Searches all through the outage, from the moment the ingest starts until the node is back.
    answers: list[dict] = []
    searching = threading.Event()
    searching.set()

    def search_all_along():
        while searching.is_set():
            try:
                answers.append(_searches(client))
            except AssertionError as exc:  # an error answer: kept, so the test below fails on it
                answers.append({"error": str(exc), "at": time.monotonic() - started})
            time.sleep(0.2)

    started = time.monotonic()
    searcher = threading.Thread(target=search_all_along, daemon=True)
    urls = ",".join(settings.node_urls)
    ingest = start_ingest(settings, [str(tmp_path / "during")], urls, tmp_path)
    searcher.start()
    try:
        while es.count(index=settings.index_alias, query={"term": {"format": "PNG"}})["count"] < 6:
            assert ingest.poll() is None, "the ingest ended before the node could be killed"
            time.sleep(0.2)
            es.indices.refresh(index=settings.index_alias)
        victim_name = _master(es)
        victim = next(layout for layout in node.node_layouts(cluster) if layout.name == victim_name)
        killed_at = time.monotonic()
        kill_node(victim)
        print(f"killed {victim_name} {killed_at - started:.1f} s after the ingest started")

        stdout, stderr = ingest.communicate(timeout=300)
        print(f"killed {victim_name} (the master); the ingest went on and ended "
              f"{time.monotonic() - killed_at:.1f} s later:\n{stdout}")
        assert ingest.returncode == 0, stderr
        assert "failed:                  0" in stdout
        assert "Traceback" not in stderr

        health = client.get("/api/health")
        assert health.status_code == 200
        assert health.json["status"] == "yellow"
        assert health.json["details"]["documents"] == BEFORE + DURING
        during = _searches(client)
        assert during == before
        assert_each_path_indexed_once(es, settings.index_alias, jpegs | pngs)

        restarted = time.monotonic()
        node.start(cluster, log=lambda line: print(line))  # starts the one node that is down
        green = es.cluster.health(index=settings.index_alias, wait_for_status="green", timeout="180s")
        assert green["status"] == "green" and green["number_of_nodes"] == 3
        print(f"{victim_name} back and the cluster green in {time.monotonic() - restarted:.1f} s")
    finally:
        searching.clear()
        searcher.join(30)
        if ingest.poll() is None:
            ingest.kill()

    print(f"{len(answers)} rounds of {len(QUERIES)} searches while the ingest ran, the node was lost and came back")
    assert len(answers) >= 2
    differing = [answer for answer in answers if answer != before]
    assert not differing, f"{len(differing)} of {len(answers)} differ, e.g. {differing[0]} instead of {before}"
    assert client.get("/api/health").json["status"] == "green"
    assert _searches(client) == before
    assert_each_path_indexed_once(es, settings.index_alias, jpegs | pngs)
    assert run_ingest(settings, [tmp_path / "during"], es=es, recheck=True).indexed == 0  # all there already
    es.close()
