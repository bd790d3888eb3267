"""A real headless Chromium (Debian's package, driven by Playwright) searches, clicks Find similar, applies a
filter, uploads an image, switches language, and saves screenshots under the test's tmp folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.browser import chromium, serving
from tests.support.sample_gallery import PHOTOS
from webapp import create_app

pytestmark = pytest.mark.browser

@pytest.fixture(scope="module")
def browser():
    with chromium() as instance:
        yield instance


@pytest.fixture(scope="module")
def server_url(gallery):
    """The app as a browser sees it."""
    with serving(create_app(gallery.settings)) as url:
        yield url


def scored_cards(page) -> list[tuple[str, str]]:
    return page.eval_on_selector_all("#results .card", "cards => cards.map(c => [c.dataset.id, "
                                                       "(c.querySelector('.score') || {}).textContent])")


def card_ids(page) -> list[str]:
    return page.eval_on_selector_all("#results .card", "cards => cards.map(c => c.dataset.id)")


def test_search_find_similar_filter_upload_and_language(browser, server_url, gallery, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    # Search by typing a sentence.
    page.goto(server_url + "/")
    page.fill("input[name=q]", "an orange sky at sunset")
    page.click(".search-form button[type=submit]")
    page.wait_for_selector("#results .card")
    assert "an orange sky at sunset" in page.inner_text("h1")
    assert len(card_ids(page)) == len(PHOTOS)
    assert page.locator("#results .card .score").first.inner_text().startswith("similarity")
    # Thumbnails really load (naturalWidth > 0 means the browser decoded the image).
    page.wait_for_function("() => [...document.querySelectorAll('#results img')].every(i => i.complete)")
    assert page.eval_on_selector_all("#results img", "imgs => imgs.every(i => i.naturalWidth > 0)")
    page.screenshot(path=str(tmp_path / "1-search.png"), full_page=True)

    # Find similar on the first result: it leaves itself out.
    first = card_ids(page)[0]
    page.locator("#results .card").first.locator(".similar-link").click()
    page.wait_for_url("**similar=*")
    page.wait_for_selector("#results .card")
    similar = card_ids(page)
    assert first not in similar and len(similar) == len(PHOTOS) - 1
    page.screenshot(path=str(tmp_path / "2-similar.png"), full_page=True)

    # Apply a filter: ticking a box submits the form (JavaScript); the grid narrows to what the facet counted.
    warm = page.locator("fieldset[data-facet=color] input[value=warm]")
    expected = int(warm.locator("xpath=..").locator(".count").inner_text())
    with page.expect_navigation():
        warm.check()
    page.wait_for_load_state()
    assert page.locator("fieldset[data-facet=color] input[value=warm]").is_checked()
    assert "similar=" in page.url and "color=warm" in page.url
    filtered = card_ids(page)
    assert first not in filtered
    expected_ids = {gallery.ids[name] for name in gallery.ids}
    assert set(filtered) <= expected_ids
    assert 0 < len(filtered) <= expected
    page.screenshot(path=str(tmp_path / "3-filtered.png"), full_page=True)

    # Upload an image with the file button (the script submits on choice); the warm filter comes along.
    with page.expect_navigation():
        page.set_input_files("#upload-input", str(gallery.photos / "red_apple.jpg"))
    page.wait_for_selector("#results .card")
    assert page.locator("img.query-image").count() == 1
    assert card_ids(page)[0] == gallery.id_of("red_apple.jpg")
    assert page.locator("fieldset[data-facet=color] input[value=warm]").is_checked()
    page.screenshot(path=str(tmp_path / "4-upload.png"), full_page=True)

    # Switch to Chinese; the same search stays on screen.
    page.click("nav.languages a[lang=zh]")
    page.wait_for_load_state()
    assert page.inner_text(".search-form button[type=submit]") == "搜索"
    assert card_ids(page)[0] == gallery.id_of("red_apple.jpg")
    page.screenshot(path=str(tmp_path / "5-chinese.png"), full_page=True)

    # The image page: picture, details, colours, and its most similar images (itself left out).
    page.locator("#results .card .title").first.click()
    page.wait_for_selector(".details dl")
    assert "red apple" in page.inner_text(".details h1")
    assert page.locator(".swatches rect").count() >= 1
    assert gallery.id_of("red_apple.jpg") not in card_ids(page)
    assert len(card_ids(page)) == len(PHOTOS) - 1
    page.screenshot(path=str(tmp_path / "6-image.png"), full_page=True)
    context.close()
    assert errors == []
    for name in ("1-search", "2-similar", "3-filtered", "4-upload", "5-chinese", "6-image"):
        assert Path(tmp_path / f"{name}.png").stat().st_size > 10_000


def test_more_and_less_like_this_build_the_query_as_chips_in_the_url(browser, server_url, gallery, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server_url + "/?q=a+red+apple")
    page.wait_for_selector("#results .card")
    assert page.locator("#query-parts .chip").count() == 1  # the text alone

    # More like this on the second result: it becomes a positive chip and a like= in the address.
    liked = card_ids(page)[1]
    with page.expect_navigation():
        page.locator(f"#results .card[data-id='{liked}'] .more-like").click()
    page.wait_for_selector("#results .card")
    assert f"like={liked}" in page.url and "q=a+red+apple" in page.url
    chips = page.locator("#query-parts .chip")
    assert chips.count() == 2
    assert chips.nth(1).get_attribute("data-value") == liked
    assert chips.nth(1).get_attribute("data-negative") == "false"

    # Less like this on another result: a negative chip, unlike= in the address, and the image leaves the grid.
    unliked = next(i for i in card_ids(page) if i != liked)
    with page.expect_navigation():
        page.locator(f"#results .card[data-id='{unliked}'] .less-like").click()
    page.wait_for_selector("#results .card")
    assert f"unlike={unliked}" in page.url and f"like={liked}" in page.url
    assert [c.get_attribute("data-negative") for c in page.locator("#query-parts .chip").all()] == [
        "false", "false", "true"]
    assert unliked not in card_ids(page)
    page.screenshot(path=str(tmp_path / "feedback.png"), full_page=True)

    # The address is the whole query: opened afresh, it shows the same chips and results.
    shown = card_ids(page)
    fresh = context.new_page()
    fresh.goto(page.url)
    fresh.wait_for_selector("#results .card")
    assert card_ids(fresh) == shown and fresh.locator("#query-parts .chip").count() == 3

    # Removing the liked chip drops it from the address and keeps the rest.
    with page.expect_navigation():
        page.locator(f"#query-parts .chip[data-value='{liked}'] .remove").click()
    page.wait_for_selector("#results .card")
    assert f"like={liked}" not in page.url and f"unlike={unliked}" in page.url
    assert page.locator("#query-parts .chip").count() == 2
    # Either the good-match line or the plain no-good-match notice is drawn.
    assert page.locator("#cutoff-line").count() + page.locator("#no-good-match").count() >= 1
    context.close()
    assert errors == []


@pytest.fixture(scope="module")
def text_gallery(es, base_settings, tiny_models, tmp_path_factory):
    """Drawn images with text, read by the ingest (OCR on), their originals served from an image root."""
    import uuid

    from demo.rendered_text import png_bytes, text_collection, text_free_photos
    from es_search.index import delete_index
    from ingest.runner import run_ingest

    folder = tmp_path_factory.mktemp("text-gallery")
    photos = folder / "photos"
    photos.mkdir()
    drawn = text_collection(10, seed=33)
    for item in drawn:
        (photos / f"{item.name}.png").write_bytes(png_bytes(item.image))
    for n, photo in enumerate(text_free_photos(8, seed=2)):
        photo.save(photos / f"photo-{n}.jpg", quality=90)
    settings = base_settings.with_overrides(
        index_alias=f"test-web-text-{uuid.uuid4().hex[:12]}", data_dir=folder / "data", ocr="auto",
        image_model=str(tiny_models.image), text_model=str(tiny_models.text), image_roots=(photos,))
    assert run_ingest(settings, [photos], es=es).indexed == 18
    es.indices.refresh(index=settings.index_alias)
    with serving(create_app(settings)) as url:
        yield url, drawn
    delete_index(es, settings.index_alias)


def test_words_in_images_are_highlighted_and_a_dragged_region_searches_by_that_part(browser, text_gallery, tmp_path):
    url, drawn = text_gallery
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    # A word written in one image finds it first, its words highlighted in the results list.
    document = next(item for item in drawn if item.kind == "document")
    word = document.unique[0]
    page.goto(url + "/")
    page.fill("input[name=q]", word)
    page.select_option("select[name=mode]", "text")
    page.click(".search-form button[type=submit]")
    page.wait_for_selector("#results .card")
    first = page.locator("#results .card").first
    assert first.locator(".title").inner_text() == document.name.replace("-", " ")  # the title from the name
    assert word in first.locator(".snippet em").first.inner_text().replace(" ", "")

    # Its page draws the lines read in it over the picture, the matching one marked.
    first.locator("a.title").click()
    page.wait_for_selector(".picture svg.text-boxes")
    assert page.locator("rect.text-box").count() >= len(document.lines) - 1
    assert page.locator("rect.text-box.matched").count() >= 1
    marked = page.locator("rect.text-box.matched").first.bounding_box()
    assert marked is not None and marked["width"] > 20 and marked["height"] > 5
    page.screenshot(path=str(tmp_path / "text-boxes.png"))

    # Dragging over the lower right of the picture searches by that region: other results than the whole.
    similar_page = page.locator("a.similar-link").first.get_attribute("href")
    picture = page.locator(".image-main .picture").bounding_box()
    page.mouse.move(picture["x"] + picture["width"] * 0.55, picture["y"] + picture["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(picture["x"] + picture["width"] * 0.95, picture["y"] + picture["height"] * 0.95, steps=8)
    page.mouse.up()
    page.wait_for_url("**box=*")
    page.wait_for_selector("#results .card")
    by_region = scored_cards(page)
    box = page.url.split("box=")[1].split("&")[0].replace("%2C", ",").split(",")
    assert 0.5 < float(box[0]) < 0.6 and 0.35 < float(box[2]) < 0.45
    page.goto(url + similar_page)
    page.wait_for_selector("#results .card")
    # The tiny random model sees little difference between a picture and a part of it, so the order may stay:
    # the similarities (what ranks) are what must change.
    assert by_region and by_region != scored_cards(page)
    assert errors == []
    context.close()


def test_recommended_next_comes_from_the_views_this_browser_kept(browser, gallery):
    first, second = gallery.id_of("blue_sky.png"), gallery.id_of("orange_sunset.jpg")
    with serving(create_app(gallery.settings.with_overrides(recommend_next=True))) as url:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if "/api/recommend" in r.url else None)
        page.goto(f"{url}/image/{first}")
        page.wait_for_selector("#recommended:not([hidden]) .card")
        page.goto(f"{url}/image/{second}")
        page.wait_for_selector("#recommended:not([hidden]) .card")
        shown = page.eval_on_selector_all("#recommended .card", "cards => cards.map(c => c.dataset.id)")
        assert shown and not {first, second} & set(shown), "what was viewed is not recommended"
        assert f"viewed={second}&viewed={first}" in asked[-1], "the newest view first"
        kept = page.evaluate("() => JSON.parse(window.localStorage.getItem('imgsearch-viewed'))")
        assert kept[:2] == [second, first]
        assert not errors
    without = browser.new_context().new_page()
    with serving(create_app(gallery.settings)) as url:
        without.goto(f"{url}/image/{first}")
        assert without.locator("#recommended").count() == 0, "off unless the operator turns it on"
