"""Overload protection through the app on the sample gallery: a client past its rate of expensive requests
gets 429 with Retry-After while cheap ones and other clients go on; the model's full queue answers 503
overloaded with Retry-After; the published contract names both."""

from __future__ import annotations

import base64

import pytest

from es_search.apikeys import create_key, keys_index
from tests.support.ingest_cases import jpeg
from webapp import create_app
from webapp.context import search_service


@pytest.fixture(scope="module")
def limited(gallery, es):
    settings = gallery.settings.with_overrides(expensive_rate=0.5, expensive_burst=2, key_expensive_rate=0.5,
                                               key_expensive_burst=2, model_concurrency=1, model_queue=0,
                                               model_wait_seconds=2)
    key = create_key(es, settings, name="overload-writer", scope="write")
    yield create_app(settings), key
    es.indices.delete(index=keys_index(settings), ignore_unavailable=True)


def upload(client, seed: int, **headers):
    return client.post("/api/search/image", json={"image_base64": base64.b64encode(jpeg(seed, (96, 64))).decode(),
                                                  "size": 2}, headers=headers)


def test_a_client_past_its_rate_gets_429_and_others_go_on(limited):
    app, key = limited
    client = app.test_client()
    assert [upload(client, n).status_code for n in range(2)] == [200, 200], "the burst"
    refused = upload(client, 3)
    assert refused.status_code == 429 and refused.json["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 2
    assert client.get("/api/search", query_string={"q": "a green field"}).status_code == 200, "text is cheap"
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    assert upload(other, 4).status_code == 200, "another address has its own rate"
    keyed = {"Authorization": f"ApiKey {key}"}
    assert [upload(client, n, **keyed).status_code for n in (5, 6, 7)] == [200, 200, 429], "a key is a client"
    assert client.post("/api/search", json={"parts": [{"text": "field"}]}).status_code == 200, \
        "a compound query without an image is not expensive"


def test_a_full_model_queue_answers_503_overloaded(limited):
    app, _ = limited
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.9.9.9"
    with app.app_context():
        gate = search_service().model_gate
    with gate.slot():  # the one turn is taken, and no one may wait
        busy = upload(client, 8)
    assert busy.status_code == 503 and busy.json["error"]["code"] == "overloaded"
    assert busy.headers["Retry-After"] == "2"
    assert upload(client, 9).status_code == 200, "the turn is back"


def test_the_contract_names_429_and_503_where_they_can_come(limited):
    spec = limited[0].test_client().get("/api/openapi.json").json
    assert {"429", "503"} <= set(spec["paths"]["/api/search/image"]["post"]["responses"])
    assert {"429", "503"} <= set(spec["paths"]["/api/images/{image_id}"]["delete"]["responses"])
    assert "429" not in spec["paths"]["/api/search"]["get"]["responses"]


def test_behind_a_proxy_the_address_it_saw_is_the_client(gallery):
    settings = gallery.settings.with_overrides(expensive_rate=0.5, expensive_burst=1, proxy_hops=1)
    client = create_app(settings).test_client()
    first = upload(client, 20, **{"X-Forwarded-For": "203.0.113.7"})
    again = upload(client, 21, **{"X-Forwarded-For": "203.0.113.7"})
    other = upload(client, 22, **{"X-Forwarded-For": "203.0.113.8"})
    assert (first.status_code, again.status_code, other.status_code) == (200, 429, 200)
