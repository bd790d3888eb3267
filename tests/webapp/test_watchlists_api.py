"""Watchlists through the write API on a real node with the tiny models: a list made and filled by requests,
a refused image's 422 naming the list, a held image hidden from every reader but its writer and the review
queue, its release, the counter per list and policy, and every endpoint's key and 4xx."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from es_search.apikeys import create_key, keys_index
from es_search.index import delete_index
from es_search.watchlists.store import watchlists_index
from tests.support.image_families import original
from tests.support.watchlist_families import copy_of, jpeg_bytes
from webapp import create_app
from webapp.schemas import ReferencesAddedBody, ReviewBody, WatchlistAnswer


@pytest.fixture(scope="module")
def settings(es, base_settings, tiny_models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("watchlist-api")
    settings = base_settings.with_overrides(index_alias=f"test-watch-{uuid.uuid4().hex[:12]}", data_dir=folder / "data",
                                            image_model=str(tiny_models.image), text_model=str(tiny_models.text))
    yield settings
    delete_index(es, settings.index_alias)
    for index in (keys_index(settings), watchlists_index(settings.index_alias)):
        es.indices.delete(index=index, ignore_unavailable=True)


@pytest.fixture(scope="module")
def app(settings):
    return create_app(settings)


@pytest.fixture(scope="module")
def keys(es, settings) -> dict:
    return {scope: create_key(es, settings, name=f"watch-{scope}", scope=scope) for scope in ("read", "write")}


@pytest.fixture
def client(app, keys):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"ApiKey {keys['write']}"
    return client


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _list_with_reference(client, name: str, policy: str, seed: int) -> None:
    made = client.put(f"/api/watchlists/{name}", json={"policy": policy, "description": "tests"})
    assert made.status_code == 201, made.get_json()
    WatchlistAnswer.model_validate(made.get_json())
    added = client.post(f"/api/watchlists/{name}/references", json={"image_base64": _b64(jpeg_bytes(original(seed)))})
    assert added.status_code == 200, added.get_json()
    body = ReferencesAddedBody.model_validate(added.get_json())
    assert (body.added, body.failed) == (1, 0)


def test_a_refused_image_is_422_naming_the_list_and_is_not_indexed(client):
    _list_with_reference(client, "banned-api", "refuse", 801)
    copy = jpeg_bytes(*copy_of(original(801), "framed"))
    answer = client.post("/api/images", json={"image_base64": _b64(copy), "id": "framed-copy"})
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["code"] == "watchlist_match" and "banned-api" in error["message"]
    assert client.get("/api/images/framed-copy").status_code == 404
    # An unrelated picture goes in as usual.
    assert client.post("/api/images", json={"image_base64": _b64(jpeg_bytes(original(9801)))}).status_code == 201
    # Bulk: the copy fails alone, with the same reason.
    lines = [{"index": {"_id": "b1"}}, {"image_base64": _b64(jpeg_bytes(*copy_of(original(801), "mirrored")))},
             {"index": {"_id": "b2"}}, {"image_base64": _b64(jpeg_bytes(original(9802)))}]
    bulk = client.post("/api/images/_bulk", content_type="application/x-ndjson",
                       data="".join(json.dumps(line) + "\n" for line in lines))
    items = bulk.get_json()["items"]
    assert items[0]["index"]["status"] == 422 and items[0]["index"]["error"]["type"] == "watchlist_match"
    assert items[1]["index"]["status"] == 201
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'imgsearch_watchlist_matches_total{policy="refuse",watchlist="banned-api"} 2.0' in metrics


def test_a_held_image_is_answered_to_its_writer_then_hidden_until_released(client, app):
    _list_with_reference(client, "held-api", "hold", 802)
    copy = jpeg_bytes(*copy_of(original(802), "cropped10"))
    written = client.post("/api/images", json={"image_base64": _b64(copy), "id": "held-copy"})
    assert written.status_code == 201
    assert written.get_json()["image"]["watchlist_status"] == "held"
    assert "watchlist_matches" not in written.get_json()["image"], "what matched is for the review queue"
    anonymous = app.test_client()
    assert anonymous.get("/api/images/held-copy").status_code == 404
    assert anonymous.get("/image/held-copy").status_code == 404
    listed = anonymous.get("/api/search?size=100").get_json()
    assert "held-copy" not in {hit["id"] for hit in listed["hits"]}
    assert anonymous.get("/api/search?similar=held-copy").status_code == 404
    assert anonymous.get("/api/review").status_code == 401
    queue = ReviewBody.model_validate(client.get("/api/review?status=held").get_json())
    assert [item.id for item in queue.items] == ["held-copy"]
    match = queue.items[0].matches[0]
    assert match.list == "held-api" and match.reference_thumbnail and match.distance is not None
    assert client.post("/api/review/held-copy/release").get_json() == {"id": "held-copy",
                                                                      "watchlist_status": "released"}
    assert anonymous.get("/api/images/held-copy").status_code == 200
    assert client.post("/api/review/held-copy/release").status_code == 409  # not under review any more
    assert client.post("/api/review/no-such-image/release").status_code == 404


def test_lists_prompts_references_and_bad_requests(client, keys, app):
    made = client.put("/api/watchlists/prompts-api", json={"policy": "flag", "prompts": [
        {"text": "a weapon", "threshold": 0.31}, {"text": "武器"}]})
    assert made.status_code == 201
    body = made.get_json()
    assert [p["text"] for p in body["prompts"]] == ["a weapon", "武器"]
    assert body["prompts"][1]["threshold"] == pytest.approx(0.30)  # IMGSEARCH_WATCHLIST_PROMPT_THRESHOLD
    changed = client.put("/api/watchlists/prompts-api", json={"policy": "hold"})
    assert changed.status_code == 200 and changed.get_json()["policy"] == "hold"
    names = {entry["name"] for entry in client.get("/api/watchlists").get_json()["watchlists"]}
    assert "prompts-api" in names
    reader = app.test_client()
    reader.environ_base["HTTP_AUTHORIZATION"] = f"ApiKey {keys['read']}"
    assert reader.get("/api/watchlists").status_code == 403
    assert reader.put("/api/watchlists/x", json={"policy": "flag"}).status_code == 403
    assert client.put("/api/watchlists/Bad%20Name", json={"policy": "flag"}).status_code == 400
    assert client.put("/api/watchlists/ok", json={"policy": "delete-everything"}).status_code == 400
    assert client.put("/api/watchlists/ok", json={"policy": "flag", "similarity": 2}).status_code == 400
    assert client.post("/api/watchlists/nowhere/references",
                       json={"image_base64": _b64(jpeg_bytes(original(3)))}).status_code == 404
    broken = client.post("/api/watchlists/prompts-api/references", json={"image_base64": _b64(b"not an image")})
    assert broken.status_code == 400
    path_url = client.post("/api/watchlists/prompts-api/references", json={"url": "/etc/passwd"})
    assert path_url.status_code == 400
    reference = client.post("/api/watchlists/prompts-api/references",
                            json={"image_base64": _b64(jpeg_bytes(original(803)))}).get_json()["references"][0]
    assert client.delete(f"/api/watchlists/prompts-api/references/{reference}").get_json()["removed"] == 1
    assert client.delete(f"/api/watchlists/prompts-api/references/{reference}").status_code == 404
    assert client.delete("/api/watchlists/prompts-api").status_code == 200
    assert client.delete("/api/watchlists/prompts-api").status_code == 404
    assert client.get("/api/review?status=deleted").status_code == 400
    deep = client.get("/api/review?page=100&size=100")  # past the result window: empty, not an error
    assert deep.status_code == 200 and deep.get_json()["items"] == []


@pytest.mark.browser
def test_the_review_page_shows_a_held_image_beside_its_reference_and_releases_it(client, app, keys, tmp_path):
    from tests.support.browser import chromium, serving

    _list_with_reference(client, "page-review", "hold", 804)
    copy = jpeg_bytes(*copy_of(original(804), "watermarked"))
    assert client.post("/api/images", json={"image_base64": _b64(copy), "id": "on-the-page"}).status_code == 201
    with chromium() as browser, serving(app) as url:
        page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US").new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: dialog.accept(keys["write"]))  # the write key, asked for once
        page.goto(url + "/review")
        page.select_option("#review-filter select[name=status]", "held")
        page.click("#review-filter button[type=submit]")
        card = page.locator('#review .review-item[data-id="on-the-page"]')
        card.wait_for()
        page.wait_for_function("() => [...document.querySelectorAll('#review img')].every(i => i.complete)")
        assert page.eval_on_selector_all("#review img", "imgs => imgs.length >= 2 && imgs.every(i => i.naturalWidth > 0)")
        assert "page-review" in card.inner_text() and "hash distance" in card.inner_text()
        page.screenshot(path=str(tmp_path / "review.png"), full_page=True)
        card.get_by_role("button", name="Release").click()
        page.wait_for_selector('#review .review-item[data-id="on-the-page"]', state="detached")
        assert not errors
    assert app.test_client().get("/api/images/on-the-page").status_code == 200
