"""Compound queries through the JSON API and the pages: GET parameters, the POST JSON form, explain, the
cutoff's report, and the gallery's feedback links and chips. Answers are validated against the OpenAPI models.

The gallery is ingested by the real pipeline with the tiny random models; expected rankings are computed in
numpy from the stored vectors and the text encoder, never from what a model "should" find.
"""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from es_search.encoders import build_text_encoder
from tests.support.sample_gallery import PHOTOS
from webapp.schemas import SearchResultBody


def unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64)
    return vector / np.linalg.norm(vector)


def expected_order(app, gallery, query: np.ndarray, leave_out=()) -> list[str]:
    service = app.extensions["search_service"]()
    stored = service.stored_vectors(list(gallery.ids.values()))
    scored = sorted(((float(np.dot(unit(query), stored[i])), i) for i in stored if i not in leave_out),
                    reverse=True)
    return [i for _, i in scored]


def test_get_compound_query_ranks_as_numpy_sums_it(client, app, gallery):
    like, unlike = gallery.id_of("red_apple.jpg"), gallery.id_of("grey_cat.jpg")
    answer = client.get("/api/search", query_string=[("q", "a sunny beach"), ("not", "people^0.5"),
                                                     ("like", like), ("unlike", unlike), ("explain", "true")])
    assert answer.status_code == 200, answer.json
    data = SearchResultBody.model_validate(answer.json)
    encoder = build_text_encoder(gallery.settings)
    beach, people = encoder.encode_texts(["a sunny beach", "people"])
    service = app.extensions["search_service"]()
    query = unit(beach) - 0.5 * unit(people) + unit(service.stored_vector(like)) - unit(service.stored_vector(unlike))
    assert [hit.id for hit in data.hits] == expected_order(app, gallery, query, leave_out=(unlike,))
    assert [(p.kind, p.weight) for p in data.query.parts] == [("text", 1.0), ("text", -0.5), ("image", 1.0),
                                                              ("image", -1.0)]
    assert data.cutoff is not None and data.no_good_match == data.cutoff.no_good_match
    assert sum(hit.good_match for hit in data.hits) == data.cutoff.good_matches
    for hit in data.hits:
        cosines = [part.cosine for part in hit.explain.parts]
        assert cosines[3] is not None and cosines[2] == pytest.approx(
            float(np.dot(unit(service.stored_vector(like)), service.stored_vector(hit.id))), abs=1e-4)


def test_post_json_parts_with_an_upload_match_the_get_form(client, gallery):
    photo = (gallery.photos / "red_apple.jpg").read_bytes()
    grey = gallery.id_of("grey_cat.jpg")
    body = {"parts": [{"image_base64": base64.b64encode(photo).decode()}, {"text": "a cat", "negative": True,
                                                                        "weight": 0.5},
                      {"image": grey, "negative": True}], "size": 4}
    answer = client.post("/api/search", json=body)
    assert answer.status_code == 200, answer.json
    data = SearchResultBody.model_validate(answer.json)
    assert data.query.kind == "vector" and len(data.hits) == 4
    assert grey not in [hit.id for hit in data.hits]
    assert data.hits[0].id == gallery.id_of("red_apple.jpg")
    # The next page's link carries every part, the upload as its vector token.
    query = parse_qs(urlsplit(data.next).query)
    assert query["not"] == ["a cat^0.5"] and query["unlike"] == [grey] and len(query["vec"]) == 1
    again = client.get(data.next).json
    assert [hit["rank"] for hit in again["hits"]] == list(range(5, len(PHOTOS) + 1 - 1))


@pytest.mark.parametrize("body, status, fragment", [
    ({"parts": "beach"}, 400, "parts must be a list"),
    ({"parts": [{"text": "a", "image": "b"}]}, 400, "exactly one of"),
    ({"parts": [{"text": "a", "weight": 0}]}, 400, "weight"),
    ({"parts": [{"text": "a", "weight": True}]}, 400, "weight"),
    ({"parts": [{"text": f"t{i}"} for i in range(17)]}, 400, "at most 16"),
    ({"parts": [{"image": "0" * 64}]}, 404, "no indexed image"),
    ({"parts": [{"image_base64": "%%%"}]}, 400, "base64"),
    ({"parts": [{"text": ["a"]}]}, 400, "must be a string"),
])
def test_bad_compound_bodies_are_clear_4xx(client, body, status, fragment):
    answer = client.post("/api/search", json=body)
    assert answer.status_code == status, answer.json
    assert fragment in answer.json["error"]["message"]


@pytest.mark.parametrize("query, fragment", [
    ([("q", "a"), ("like", "x/y")], "like breaks the rule"),
    ([("q", "a"), ("sort", "colour")], "sort must be one of"),
    ([("q", "a"), ("explain", "maybe")], "explain must be true or false"),
])
def test_bad_compound_parameters_are_400(client, query, fragment):
    answer = client.get("/api/search", query_string=query)
    assert answer.status_code == 400 and fragment in answer.json["error"]["message"]


def test_a_query_only_away_from_an_image_ranks_what_is_least_like_it(client, gallery):
    apple = gallery.id_of("red_apple.jpg")
    answer = client.get("/api/search", query_string={"unlike": apple, "explain": "true", "size": 50}).json
    assert answer["query"]["kind"] == "compound" and apple not in [hit["id"] for hit in answer["hits"]]
    cosines = [hit["explain"]["parts"][0]["cosine"] for hit in answer["hits"]]
    assert cosines == sorted(cosines) and len(cosines) == len(PHOTOS) - 1


def test_a_caret_without_a_weight_in_range_is_part_of_the_text(client):
    parts = client.get("/api/search", query_string={"q": "a^99"}).json["query"]["parts"]
    assert [(p["value"], p["weight"]) for p in parts] == [("a^99", 1.0)]
    weighted = client.get("/api/search", query_string=[("q", "a"), ("q", "b^2")]).json["query"]["parts"]
    assert [(p["value"], p["weight"]) for p in weighted] == [("a", 1.0), ("b", 2.0)]


def test_parts_that_cancel_out_give_an_empty_page_that_says_so(client):
    answer = client.get("/api/search", query_string=[("q", "beach"), ("not", "beach")]).json
    assert answer["hits"] == [] and "cancel out" in answer["notice"] and answer["no_good_match"] is True


def test_sort_by_size_keeps_the_good_matches_first(client):
    relevance = client.get("/api/search", query_string={"q": "a red apple"}).json
    by_size = client.get("/api/search", query_string={"q": "a red apple", "sort": "size"}).json
    good = relevance["cutoff"]["good_matches"]
    assert {h["id"] for h in by_size["hits"][:good]} == {h["id"] for h in relevance["hits"][:good]}
    assert [h["id"] for h in by_size["hits"][good:]] == [h["id"] for h in relevance["hits"][good:]]
    pixels = [h["image"]["width"] * h["image"]["height"] for h in by_size["hits"][:good]]
    assert pixels == sorted(pixels, reverse=True)


def test_openapi_describes_the_query_forms(client):
    spec = client.get("/api/openapi.json").json
    names = {p["name"] for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert {"q", "not", "like", "unlike", "vec", "not_vec", "sort", "explain"} <= names
    post = spec["paths"]["/api/search"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "parts" in post["properties"]
    hit = spec["components"]["schemas"]["Hit"]["properties"]
    assert {"good_match", "explain"} <= set(hit)
    assert {"cutoff", "no_good_match"} <= set(spec["components"]["schemas"]["SearchResultBody"]["properties"])


def test_cli_takes_the_same_parts(gallery, gallery_env, capsys):
    from es_search.cli import main as cli_main

    like, unlike = gallery.id_of("red_apple.jpg"), gallery.id_of("grey_cat.jpg")
    assert cli_main(["search", "fruit", "--not", "a cat^0.5", "--like", like, "--unlike", unlike, "--sort", "date",
                     "--explain", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(p["kind"], p["value"], p["weight"]) for p in data["query"]["parts"]] == [
        ("text", "fruit", 1.0), ("text", "a cat", -0.5), ("image", like, 1.0), ("image", unlike, -1.0)]
    assert data["query"]["sort"] == "date" and unlike not in [hit["id"] for hit in data["hits"]]
    assert all(len(hit["explain"]["parts"]) == 4 for hit in data["hits"])
    assert cli_main(["search", "fruit", "--like", like, "--explain"]) == 0
    table = capsys.readouterr().out
    assert "good matches above" in table or "no good match" in table
    assert f"+1 image '{like[:40]}': cosine" in table
    assert cli_main(["search", "fruit", "--like", "0" * 64]) == 1
    assert cli_main(["search", "--not", "fruit"]) == 0  # away from fruit: the least fruit-like first


def test_image_page_says_why_it_matched(client, app, gallery):
    like = gallery.id_of("red_apple.jpg")
    results = client.get("/", query_string=[("q", "a cat"), ("like", like), ("color", "warm")])
    assert results.status_code == 200
    html = results.get_data(as_text=True)
    found = re.search(r'<a class="thumb" href="(/image/(\w+)\?[^"]*)"', html)
    link, target = found.group(1).replace("&amp;", "&"), found.group(2)
    assert "like=" in link and "color=" not in link  # the query's parts, not its filters
    page = client.get(link).get_data(as_text=True)
    assert 'id="why"' in page and "a cat" in page
    service = app.extensions["search_service"]()
    stored = service.stored_vector(target)
    cosine = float(np.dot(unit(service.stored_vector(like)), unit(stored)))
    assert f"{cosine:.3f}" in page
    plain = client.get(f"/image/{target}").get_data(as_text=True)
    assert 'id="why"' not in plain


def test_search_page_chips_feedback_links_and_sort_links(client, gallery):
    unlike = gallery.id_of("grey_cat.jpg")
    html = client.get("/", query_string=[("q", "a red apple"), ("unlike", unlike)]).get_data(as_text=True)
    assert html.count('<li class="chip') == 2 and html.count('class="chip negative"') == 1
    assert html.count('class="more-like"') == html.count('class="card"') == len(PHOTOS) - 1
    assert html.count('class="less-like"') == len(PHOTOS) - 1
    assert 'data-sort="date"' in html and 'data-sort="size"' in html
    assert ('id="cutoff-line"' in html) != ('id="no-good-match"' in html)
    browse = client.get("/").get_data(as_text=True)
    # Browsing has no query: "More like this" starts one, "Less like this" could not stand alone.
    assert 'class="more-like"' in browse and 'class="less-like"' not in browse and 'id="query-parts"' not in browse
    chinese = client.get("/", query_string=[("q", "a red apple"), ("lang", "zh")]).get_data(as_text=True)
    assert "多来点这样的" in chinese and "相关度" in chinese


def test_image_page_in_hybrid_mode_shows_the_matched_keywords_escaped(client, gallery):
    hostile = next(i for name, i in gallery.ids.items() if name.startswith("<img"))
    apple = gallery.id_of("red_apple.jpg")
    page = client.get(f"/image/{apple}", query_string={"q": "red apple", "mode": "hybrid"}).get_data(as_text=True)
    assert 'id="why-keywords"' in page and "<em>apple</em>" in page
    other = client.get(f"/image/{hostile}", query_string={"q": "img onerror", "mode": "hybrid"}).get_data(as_text=True)
    keywords = other.split('id="why-keywords"')[1].split("</p>")[0]
    assert "<em>img</em>" in keywords and "&lt;" in keywords
    assert "<img src=x" not in other  # the document's own text is escaped inside the fragments
