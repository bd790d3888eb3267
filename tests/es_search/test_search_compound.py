"""Compound queries, relevance feedback, the good-match cutoff, sort and explain, on the real node.

Hand-made vectors make every answer known in advance: texts map to axes (LookupEncoder), images are built
from those axes, and the expected rankings are computed here in numpy from the same vectors.
"""

from __future__ import annotations

import math
import uuid

import numpy as np
import pytest
from elasticsearch import helpers

from es_search.config import Settings
from es_search.errors import ImageNotFound, QueryError
from es_search.index import delete_index, ensure_index
from es_search.search import SearchService, parse_search_request
from es_search.search.ranking import CutoffRule, find_cutoff

DIMS = 16
BEACH, PEOPLE, GAP, FLAT = 0, 1, 14, 15


def axis(i: int) -> np.ndarray:
    vector = np.zeros(DIMS, dtype=np.float32)
    vector[i] = 1.0
    return vector


def mix(weights: dict[int, float]) -> list[float]:
    vector = sum(w * axis(i) for i, w in weights.items())
    return [float(x) for x in vector / np.linalg.norm(vector)]


def doc_id(name: str) -> str:
    return (name.encode().hex() * 64)[:64]


# Beach photos, two of them full of people (a PEOPLE component), and one unrelated image.
BEACH_DOCS = {
    "crowd": mix({BEACH: 0.95, PEOPLE: 0.31}), "calm": mix({BEACH: 0.93, 2: 0.37}),
    "family": mix({BEACH: 0.90, PEOPLE: 0.43}), "dunes": mix({BEACH: 0.85, 3: 0.53}),
    "pier": mix({BEACH: 0.70, 4: 0.71}), "city": mix({BEACH: 0.10, 5: 0.99}),
}
# A planted gap: three close to GAP, then a clear drop to a slowly falling tail. Dates and sizes run against
# the relevance order, so a sort visibly reorders.
GAP_COSINES = [0.95, 0.93, 0.92, 0.60, 0.58, 0.56, 0.55, 0.53, 0.50]
# Nothing stands out: cosines within 0.02 of each other.
FLAT_COSINES = [0.31, 0.305, 0.30, 0.30, 0.298, 0.295, 0.29, 0.29]


def planted(cosine: float, along: int, rest_axis: int) -> list[float]:
    vector = np.zeros(DIMS, dtype=np.float32)
    vector[along] = cosine
    vector[rest_axis] = math.sqrt(1 - cosine * cosine)
    return [float(x) for x in vector]


def build_docs() -> dict[str, tuple[list[float], dict]]:
    docs = {}
    for name, vector in BEACH_DOCS.items():
        docs[doc_id(name)] = (vector, dict(title=f"{name} beach" if name != "city" else "city street",
                                            category="beach"))
    for i, cosine in enumerate(GAP_COSINES):
        docs[doc_id(f"gap{i}")] = (planted(cosine, GAP, 2 + i), dict(
            title=f"gap {i}" if i < 3 else f"tail {i}", category="gap", width=100 * (i + 1), height=100,
            taken_at=f"20{10 + i}-01-01T00:00:00Z"))
    for i, cosine in enumerate(FLAT_COSINES):
        docs[doc_id(f"flat{i}")] = (planted(cosine, FLAT, 2 + i), dict(title=f"flat {i}", category="flat"))
    return docs


DOCS = build_docs()


class LookupEncoder:
    """Known texts map to known vectors (to test ranking, not a model)."""

    dims = DIMS

    def __init__(self, table: dict[str, np.ndarray]):
        self.table = table

    def encode_texts(self, texts):
        return np.asarray([self.table[t] for t in texts], dtype=np.float32)


@pytest.fixture(scope="module")
def service(es, base_settings, tmp_path_factory):
    alias = f"test-compound-{uuid.uuid4().hex[:12]}"
    settings = base_settings.with_overrides(index_alias=alias, data_dir=tmp_path_factory.mktemp("data"))
    ensure_index(es, settings, DIMS)
    actions = [{"_index": alias, "_id": key, "_source": dict(sha256=key, file_name=f"{key[:6]}.jpg",
                                                              image_embedding=vector, **fields)}
               for key, (vector, fields) in DOCS.items()]
    helpers.bulk(es, actions, refresh="wait_for")
    encoder = LookupEncoder({"beach": axis(BEACH), "people": axis(PEOPLE), "gap": axis(GAP), "flat": axis(FLAT)})
    yield SearchService(es, settings, text_encoder=encoder)
    delete_index(es, alias)


def search(service: SearchService, **params):
    params = {key: value if isinstance(value, list) else [str(value)] for key, value in params.items()}
    request = parse_search_request(params, Settings(default_page_size=24, max_page_size=100))
    return service.search(request)


def ids(result) -> list[str]:
    return [hit.id for hit in result.hits]


def numpy_ranking(query: np.ndarray, category: str, leave_out: tuple[str, ...] = ()) -> list[str]:
    query = query / np.linalg.norm(query)
    scored = [(float(np.dot(query, vector)), key) for key, (vector, fields) in DOCS.items()
              if fields["category"] == category and key not in leave_out]
    return [key for _, key in sorted(scored, reverse=True)]


def test_a_negative_part_removes_the_intended_images_and_keeps_the_rest_in_order(service):
    plain = ids(search(service, q="beach", category="beach"))
    without = search(service, q="beach", **{"not": "people"}, category="beach")
    crowded = [doc_id("crowd"), doc_id("family")]
    assert plain[0] == doc_id("crowd")  # the people-full photo led the plain search
    others = [key for key in plain if key not in crowded]
    shown = ids(without)
    assert [key for key in shown if key not in crowded] == others  # the rest keep their order
    pier_position = shown.index(doc_id("pier"))
    assert all(shown.index(key) > pier_position for key in crowded)  # below every other beach photo
    assert not any(hit.good_match for hit in without.hits if hit.id in crowded)
    assert [part.to_dict() for part in without.parts] == [
        {"kind": "text", "value": "beach", "weight": 1.0}, {"kind": "text", "value": "people", "weight": -1.0}]


def test_feedback_parts_change_the_ranking_as_numpy_computes_it(service):
    like, unlike = doc_id("pier"), doc_id("crowd")
    result = search(service, q="beach", like=f"{like}^0.5", unlike=unlike, category="beach")
    stored = {key: np.asarray(vector) for key, (vector, _) in DOCS.items()}
    query = axis(BEACH) + 0.5 * stored[like] - stored[unlike]
    expected = numpy_ranking(query, "beach", leave_out=(unlike,))
    assert ids(result) == expected  # the unliked image is left out; the liked one climbs
    assert ids(result) != ids(search(service, q="beach", category="beach"))
    unit = query / np.linalg.norm(query)
    for hit in result.hits:
        assert hit.similarity == pytest.approx(float(np.dot(unit, stored[hit.id])), abs=0.02)


def test_weights_tilt_the_sum(service):
    # Twice as much "people" as "beach": the people-full photos come first.
    result = search(service, q=["beach", "people^2"], category="beach")
    expected = numpy_ranking(axis(BEACH) + 2 * axis(PEOPLE), "beach")
    assert ids(result) == expected and ids(result)[0] == doc_id("family")


def test_the_cutoff_finds_a_planted_gap(service):
    result = search(service, q="gap", category="gap", size=4)
    assert result.cutoff.good == 3 and not result.cutoff.no_good_match
    assert [hit.good_match for hit in result.hits] == [True, True, True, False]
    assert result.cutoff.similarity == pytest.approx(0.92, abs=0.02)
    data = result.to_dict()
    assert data["no_good_match"] is False and data["cutoff"]["good_matches"] == 3
    # Page 2 knows the same boundary: its results are all "more results".
    second = search(service, q="gap", category="gap", size=4, page=2)
    assert second.cutoff.good == 3 and not any(hit.good_match for hit in second.hits)


def test_no_good_match_when_nothing_stands_out(service):
    result = search(service, q="flat", category="flat")
    assert result.cutoff.no_good_match and result.cutoff.good == 0
    assert result.to_dict()["no_good_match"] is True
    assert len(result.hits) == len(FLAT_COSINES) and not any(hit.good_match for hit in result.hits)


@pytest.mark.parametrize("sort, key", [("date", lambda d: d["taken_at"]), ("size", lambda d: d["width"])])
def test_sort_orders_exactly_the_good_matches(service, sort, key):
    relevance = search(service, q="gap", category="gap")
    good = [hit.id for hit in relevance.hits if hit.good_match]
    rest = [hit.id for hit in relevance.hits if not hit.good_match]
    result = search(service, q="gap", category="gap", sort=sort)
    shown = ids(result)
    assert set(shown[:len(good)]) == set(good)  # exactly the good-match set first
    assert shown[:len(good)] == sorted(good, key=lambda k: key(DOCS[k][1]), reverse=True)
    assert shown[:len(good)] != good  # the sort did reorder them (dates and sizes run against relevance)
    assert shown[len(good):] == rest  # more results follow in relevance order
    assert [hit.good_match for hit in result.hits] == [hit.good_match for hit in relevance.hits]


def test_explain_gives_each_parts_cosine_and_ranks(service):
    like = doc_id("dunes")
    result = search(service, q="beach", like=like, **{"not": "people"}, category="beach", explain="true")
    stored = {key: np.asarray(vector) for key, (vector, _) in DOCS.items()}
    for rank, hit in enumerate(result.hits, start=1):
        parts = hit.explain["parts"]
        assert [(p["value"], p["weight"]) for p in parts] == [("beach", 1.0), ("people", -1.0), (like, 1.0)]
        assert parts[0]["cosine"] == pytest.approx(float(stored[hit.id][BEACH]), abs=1e-4)
        assert parts[1]["cosine"] == pytest.approx(float(stored[hit.id][PEOPLE]), abs=1e-4)
        assert parts[2]["cosine"] == pytest.approx(float(np.dot(stored[like], stored[hit.id])), abs=1e-4)
        assert hit.explain["vector_rank"] == rank
        assert "keyword_rank" not in hit.explain


def test_hybrid_explain_reports_keyword_rank_and_the_matched_fields(service):
    result = search(service, q="people", mode="hybrid", category="beach", explain="true")
    assert result.mode == "hybrid"
    by_id = {hit.id: hit for hit in result.hits}
    city = by_id[doc_id("city")]  # no keyword match, found by vector only
    assert city.explain["keyword_rank"] is None and city.explain["matched"] == {}
    matched = [hit for hit in result.hits if hit.explain["keyword_rank"] is not None]
    assert matched == []  # no title says "people": the keyword leg finds nothing
    beach = search(service, q="beach", mode="hybrid", category="beach", explain="true")
    assert all(hit.source.get("title") for hit in beach.hits)  # documents come with fused hits too
    calm = {hit.id: hit for hit in beach.hits}[doc_id("calm")]
    assert calm.explain["keyword_rank"] is not None
    assert any("<em>beach</em>" in fragment for fragment in calm.explain["matched"]["title"])


def test_feedback_on_an_unknown_image_is_not_found(service):
    with pytest.raises(ImageNotFound):
        search(service, q="beach", like="0" * 64)


@pytest.mark.parametrize("params, message", [
    ({"q": ["beach"], "not": [f"t{i}" for i in range(9)]}, "not takes at most 8 values"),
    ({"q": ["beach"], "not": ["x" * 1001]}, "not is too long"),
    ({"like": ["a/b"]}, "like breaks the rule"),
    ({"not_vec": ["!!"]}, "not_vec"),
    ({"q": ["beach"], "sort": ["colour"]}, "sort must be one of"),
])
def test_bad_compound_queries_are_clear_query_errors(params, message):
    with pytest.raises(QueryError, match=message):
        parse_search_request(params, Settings(default_page_size=24, max_page_size=100))


@pytest.mark.parametrize(("raw", "value", "weight"), [("beach^11", "beach^11", 1.0), ("beach^0", "beach^0", 1.0),
                                                       ("^2", "^2", 1.0), ("beach^10", "beach", 10.0)])
def test_only_a_weight_in_range_after_a_text_is_a_weight(raw, value, weight):
    request = parse_search_request({"q": [raw]}, Settings())
    assert (request.text, request.weight) == (value, weight)


def test_a_query_away_from_something_alone_is_a_query():
    request = parse_search_request({"not": ["people"]}, Settings())
    assert request.kind() == "compound" and [(p.value, p.weight) for p in request.parts] == [("people", -1.0)]


def test_compound_links_round_trip_through_the_parser():
    params = {"q": ["ratio 16:9", "sunset^0.5"], "not": ["people^2"], "like": ["a" * 64],
              "unlike": ["b" * 64 + "^0.25"], "sort": ["date"], "explain": ["true"]}
    request = parse_search_request(params, Settings(default_page_size=24, max_page_size=100))
    assert request.text == "ratio 16:9" and request.weight == 1.0
    assert [(p.kind, p.value, p.weight) for p in request.parts] == [
        ("text", "sunset", 0.5), ("text", "people", -2.0), ("image", "a" * 64, 1.0), ("image", "b" * 64, -0.25)]
    again = parse_search_request(_grouped(request.to_params()), Settings(default_page_size=24, max_page_size=100))
    assert again == request
    # A text that itself ends like a weight stays literal through a link.
    literal = parse_search_request({"q": ["x^3^1"]}, Settings(default_page_size=24, max_page_size=100))
    assert literal.text == "x^3" and literal.weight == 1.0
    assert parse_search_request(_grouped(literal.to_params()), Settings(default_page_size=24, max_page_size=100)) == literal


def test_feedback_replaces_a_part_of_the_other_sign():
    request = parse_search_request({"q": ["beach"], "like": ["a" * 64]}, Settings(default_page_size=24, max_page_size=100))
    flipped = request.with_part(request.parts[0].__class__("image", "a" * 64, -1.0))
    assert [(p.value, p.weight) for p in flipped.parts] == [("a" * 64, -1.0)]
    assert flipped.without_part(flipped.parts[0]).parts == ()


def test_cutoff_rule_on_plain_numbers():
    rule = CutoffRule(window=50, margin=0.5, min_spread=0.03)
    assert find_cutoff([0.9, 0.88, 0.87, 0.5, 0.49, 0.48, 0.47, 0.4], rule).good == 3
    # An even slope: every candidate within the margin is kept.
    slope = [0.9 - 0.05 * i for i in range(11)]
    assert find_cutoff(slope, rule).good == sum(1 for s in slope if s >= 0.9 - 0.5 * (0.9 - 0.65))
    assert find_cutoff([0.3, 0.3, 0.29, 0.29, 0.29], rule).no_good_match
    assert find_cutoff([], rule).no_good_match


def _grouped(pairs):
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped


def test_hybrid_sort_orders_the_fused_good_matches(service):
    relevance = search(service, q="gap", mode="hybrid", category="gap")
    good = [hit.id for hit in relevance.hits if hit.good_match]
    result = search(service, q="gap", mode="hybrid", category="gap", sort="date")
    # The three titled "gap" are found by both rankings: the fused scores drop after them.
    assert result.mode == "hybrid" and result.cutoff.good == len(good) == 3
    shown = ids(result)
    assert shown[:len(good)] == sorted(good, key=lambda k: DOCS[k][1]["taken_at"], reverse=True)
    assert shown[len(good):] == [hit.id for hit in relevance.hits if not hit.good_match]
