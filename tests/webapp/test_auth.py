"""The API-key guard (webapp/auth.py) on the real app and node: who needs which key, and the 401/403 answers."""

from __future__ import annotations

import pytest

from es_search.apikeys import create_key, keys_index, revoke_key
from tests.support.guarded_app import LET_THROUGH, api_key_header, write
from webapp import create_app
from webapp.auth import needed_scope


@pytest.fixture(scope="module")
def keys(es, gallery):
    made = {scope: create_key(es, gallery.settings, name=f"test-{scope}", scope=scope) for scope in ("read", "write")}
    yield made
    es.indices.delete(index=keys_index(gallery.settings), ignore_unavailable=True)


@pytest.fixture(scope="module")
def open_app(gallery, keys):
    # No cache: a revocation in a test is seen by the next request.
    return create_app(gallery.settings.with_overrides(api_key_cache_seconds=0))


@pytest.fixture(scope="module")
def closed_app(gallery, keys):
    return create_app(gallery.settings.with_overrides(require_read_key=True))


def assert_refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json and response.get_json()["error"]["code"] == code
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "ApiKey"


def test_which_scope_each_endpoint_needs():
    assert needed_scope("writes", "writes.delete_image", False) == "write"
    assert needed_scope("writes", "writes.delete_image", True) == "write"
    assert needed_scope("api", "api.search", False) is None
    assert needed_scope("api", "api.search", True) == "read"
    assert needed_scope("pages", "pages.search", True) == "read"
    for blueprint, endpoint in (("probes", "probes.readyz"), ("metrics", "metrics.exposition"), (None, "static")):
        assert needed_scope(blueprint, endpoint, True) is None


def test_searches_are_open_by_default_and_writes_are_not(open_app):
    client = open_app.test_client()
    assert client.get("/api/search?q=red").status_code == 200
    assert client.get("/").status_code == 200
    assert_refused(write(client), 401, "unauthenticated")


@pytest.mark.parametrize("header", ["Bearer abc", "ApiKey", "ApiKey   ", "apikey not-a-key", "Basic dXNlcjpwdw==",
                                    "ApiKey isk_0000000000000000_" + "a" * 43])
def test_a_malformed_or_unknown_key_is_a_401(open_app, header):
    response = write(open_app.test_client(), {"Authorization": header})
    assert_refused(response, 401, "unauthenticated")
    presented = header.partition(" ")[2].strip()
    if presented:  # the answer never repeats what was sent
        assert presented not in response.get_data(as_text=True)


def test_a_read_key_on_a_write_endpoint_is_a_403_and_a_write_key_passes(open_app, keys):
    client = open_app.test_client()
    response = write(client, api_key_header(keys["read"]))
    assert_refused(response, 403, "forbidden")
    assert "test-read" in response.get_json()["error"]["message"] and keys["read"] not in response.get_data(as_text=True)
    assert write(client, api_key_header(keys["write"])).status_code in LET_THROUGH
    assert write(client, {"Authorization": f"apikey {keys['write']}"}).status_code in LET_THROUGH  # scheme: any case


def test_a_revoked_key_is_a_401(es, open_app, gallery):
    key = create_key(es, gallery.settings, name="short-lived", scope="write")
    client = open_app.test_client()
    assert write(client, api_key_header(key)).status_code in LET_THROUGH
    revoke_key(es, gallery.settings, "short-lived")
    assert_refused(write(client, api_key_header(key)), 401, "unauthenticated")


def test_with_read_keys_required_searches_and_pages_need_one(closed_app, keys):
    client = closed_app.test_client()
    assert_refused(client.get("/api/search?q=red"), 401, "unauthenticated")
    assert_refused(client.get("/api/health"), 401, "unauthenticated")
    page = client.get("/")
    assert page.status_code == 401 and page.headers["WWW-Authenticate"] == "ApiKey" and "text/html" in page.content_type
    for scope in ("read", "write"):  # a write key passes a read check
        assert client.get("/api/search?q=red", headers=api_key_header(keys[scope])).status_code == 200
    assert_refused(write(client, api_key_header(keys["read"])), 403, "forbidden")
    assert write(client, api_key_header(keys["write"])).status_code in LET_THROUGH


def test_the_operators_endpoints_stay_open(closed_app):
    client = closed_app.test_client()
    assert client.get("/livez").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)  # open: never a 401
    assert client.get("/static/style.css").status_code == 200
