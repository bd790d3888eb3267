"""A key entered once in the gallery: kept in a signed, HttpOnly, SameSite=Strict cookie, used for every later
page and API call of that browser (its scope too), refused when wrong or revoked, and forgotten on request."""

from __future__ import annotations

import pytest

from es_search.apikeys import create_key, keys_index, revoke_key
from webapp import create_app


@pytest.fixture(scope="module")
def closed(gallery, es):
    settings = gallery.settings.with_overrides(require_read_key=True, api_key_cache_seconds=0)
    keys = {"reader": create_key(es, settings, name="session-reader", scope="read"),
            "warm": create_key(es, settings, name="session-warm", scope="read", filter={"color": ["warm"]})}
    yield create_app(settings), settings, keys
    es.indices.delete(index=keys_index(settings), ignore_unavailable=True)


def test_a_key_entered_once_opens_pages_and_the_api(closed):
    app, _, keys = closed
    browser = app.test_client()
    refused = browser.get("/?lang=en")
    assert refused.status_code == 401 and 'name="key"' in refused.get_data(as_text=True), "the 401 page asks for it"
    entered = browser.post("/session", data={"key": keys["reader"], "next": "/?q=red"})
    assert entered.status_code == 303 and entered.headers["Location"].endswith("/?q=red")
    cookie = entered.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "imgsearch_session=" in cookie
    assert browser.get("/?lang=en").status_code == 200
    assert browser.get("/api/search").status_code == 200, "the API from the same browser too"
    assert "Forget my key" in browser.get("/?lang=en").get_data(as_text=True)
    assert browser.post("/session/end", data={"next": "/"}).status_code == 303
    assert browser.get("/api/search").status_code == 401, "forgotten"


def test_a_wrong_key_is_not_kept_and_a_scoped_one_keeps_its_scope(closed):
    app, _, keys = closed
    browser = app.test_client()
    wrong = browser.post("/session", data={"key": "isk_0000000000000000_" + "x" * 43})
    assert wrong.status_code == 401 and "Set-Cookie" not in wrong.headers
    assert browser.post("/session", data={"next": "//elsewhere.example/"}).status_code == 401
    assert browser.post("/session", data={"key": keys["warm"], "next": "//elsewhere.example/"}).headers[
        "Location"].endswith("/"), "never sent off the site"
    schemes = {hit["image"]["color_scheme"] for hit in browser.get("/api/search?size=50").json["hits"]}
    assert schemes == {"warm"}, "the key's filter holds for the session"


def test_a_revoked_key_ends_its_session(closed, es):
    app, settings, _ = closed
    key = create_key(es, settings, name="session-short", scope="read")
    browser = app.test_client()
    browser.post("/session", data={"key": key})
    assert browser.get("/api/search").status_code == 200
    revoke_key(es, settings, "session-short")
    assert browser.get("/api/search").status_code == 401
