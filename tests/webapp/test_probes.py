"""/livez and /readyz (webapp/probes.py) on the real node: ready needs the text model loaded, the cluster
reachable and the index behind the alias; the probe reports the model, it never loads it."""

from __future__ import annotations

import socket

from es_search.index import ensure_index
from webapp import create_app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_liveness_answers_without_any_io(tiny_settings):
    dead_cluster = tiny_settings.with_overrides(es_url=f"http://127.0.0.1:{free_port()}")
    response = create_app(dead_cluster).test_client().get("/livez")
    assert response.status_code == 200 and response.get_json() == {"live": True}


def test_ready_once_the_model_is_loaded_and_the_index_exists(es, tiny_settings, tiny_models):
    app = create_app(tiny_settings)
    client = app.test_client()
    body = client.get("/readyz").get_json()
    assert body["ready"] is False and body["checks"]["model"]["ok"] is False
    assert body["checks"]["elasticsearch"]["ok"] is True and body["checks"]["index"]["ok"] is False
    assert client.get("/readyz").status_code == 503
    assert body == client.get("/readyz").get_json()  # asking did not load the model
    ensure_index(es, tiny_settings, tiny_models.dims)
    app.extensions["search_service"]().warm_up()
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    checks = response.get_json()["checks"]
    assert checks["model"] == {"ok": True, "text": True, "image": False}
    assert checks["index"] == {"ok": True, "alias": tiny_settings.index_alias}


def test_not_ready_when_the_cluster_cannot_be_reached(tiny_settings):
    port = free_port()
    app = create_app(tiny_settings.with_overrides(es_url=f"http://127.0.0.1:{port}"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["elasticsearch"]["ok"] is False and checks["index"]["ok"] is False
    assert str(port) not in response.get_data(as_text=True)  # the kind of failure, not the address
