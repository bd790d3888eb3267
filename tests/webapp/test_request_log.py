"""One log line per request with its id (webapp/request_log.py); no key or Authorization value ever logged."""

from __future__ import annotations

import logging

import pytest

from es_search.apikeys import create_key, keys_index
from tests.support.guarded_app import api_key_header, write
from webapp import create_app
from webapp.request_log import request_id_from


@pytest.fixture
def guarded(tiny_settings):
    return create_app(tiny_settings)


@pytest.fixture
def key(es, tiny_settings):
    yield create_key(es, tiny_settings, name="logged-app", scope="write")
    es.indices.delete(index=keys_index(tiny_settings), ignore_unavailable=True)


def request_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "webapp.requests"]


def test_a_sane_incoming_id_is_kept_and_echoed(guarded, caplog):
    caplog.set_level(logging.INFO, logger="webapp.requests")
    response = guarded.test_client().get("/livez", headers={"X-Request-ID": "edge-42:abc.DEF_9"})
    assert response.headers["X-Request-ID"] == "edge-42:abc.DEF_9"
    lines = request_lines(caplog)
    assert len(lines) == 1
    assert "request_id=edge-42:abc.DEF_9" in lines[0] and "path=/livez" in lines[0] and "status=200" in lines[0]


@pytest.mark.parametrize("incoming", ["", "has space", "x" * 129, "semi;colon", "ünïcode"])
def test_anything_else_gets_a_fresh_id(guarded, incoming):
    response = guarded.test_client().get("/livez", headers={"X-Request-ID": incoming})
    echoed = response.headers["X-Request-ID"]
    assert echoed != incoming and len(echoed) == 32 and request_id_from(echoed) == echoed


def test_refused_requests_are_logged_too_and_keys_never(guarded, key, caplog):
    caplog.set_level(logging.DEBUG)
    client = guarded.test_client()
    assert write(client).status_code == 401
    assert write(client, api_key_header(key)).status_code in (200, 404)
    assert write(client, api_key_header(key + "tampered")).status_code == 401
    lines = request_lines(caplog)
    statuses = [line.split("status=")[1].split()[0] for line in lines]
    assert len(statuses) == 3 and statuses[0] == statuses[2] == "401" and statuses[1] in ("200", "404")
    assert "key=logged-app" in lines[1]  # the key's name, not the key
    everything = caplog.text + " ".join(r.getMessage() for r in caplog.records)
    assert key not in everything and key.split("_", 2)[2] not in everything
    assert "ApiKey " not in everything and "Authorization" not in everything


def test_an_encoded_line_break_in_the_path_cannot_forge_a_line(guarded, caplog):
    caplog.set_level(logging.INFO, logger="webapp.requests")
    guarded.test_client().get("/api/x%0Arequest_id=forged")
    lines = request_lines(caplog)
    assert len(lines) == 1 and "\n" not in lines[0] and "\\n" in lines[0]
