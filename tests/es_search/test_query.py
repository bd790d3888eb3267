"""The pure request builders: parsing, filters, pagination depth, facets and reciprocal rank fusion."""

from __future__ import annotations

from datetime import date

import pytest

from es_search.config import Settings
from es_search.errors import QueryError
from es_search.fields import VECTOR_FIELD
from es_search.search.bodies import (
    MAX_NUM_CANDIDATES,
    build_bm25_search,
    build_knn_search,
    deepened,
    page_window,
)
from es_search.search.filters import (
    SearchFilters,
    build_facets_search,
    build_filter,
    parse_facets,
    parse_filters,
)
from es_search.search.fusion import cosine_from_score, reciprocal_rank_fusion
from es_search.search.request import decode_vector, encode_vector, parse_search_request
from es_search.search.service import search_window


def parse(**params):
    return parse_search_request(params, Settings(default_page_size=24, max_page_size=100))


def test_a_filtered_search_looks_at_fewer_candidates_than_an_unfiltered_one():
    # Under a filter Elasticsearch's graph walk costs more per candidate (ACORN below 60 % of the documents):
    # the floor is IMGSEARCH_KNN_FILTERED_CANDIDATES (docs/benchmarks.md, "Filtered kNN").
    settings = Settings(knn_min_candidates=1500, knn_filtered_candidates=750, knn_candidates_factor=4)
    assert search_window(settings, 1, 20, narrowed=False).num_candidates == 1500
    assert search_window(settings, 1, 20, narrowed=True).num_candidates == 750
    # A deep page still asks for k × factor when that is more.
    assert search_window(settings, 20, 20, narrowed=True).num_candidates == 4 * (20 * 20 + 1)


# --------------------------------------------------------------------------- pagination


def test_first_page_asks_one_extra_result_to_know_about_the_next():
    window = page_window(1, 24, max_depth=1000, candidates_factor=4, min_candidates=100)
    assert (window.offset, window.fetch, window.k) == (0, 25, 25)
    assert window.num_candidates == 100  # 25 × 4 = 100


def test_deeper_pages_grow_k_and_candidates():
    window = page_window(3, 20, max_depth=1000, candidates_factor=4, min_candidates=100)
    assert window.offset == 40
    assert window.k == 61
    assert window.num_candidates == 244


def test_candidates_never_exceed_elasticsearch_ceiling_nor_fall_below_k():
    window = page_window(100, 100, max_depth=50_000, candidates_factor=4, min_candidates=100)
    assert window.k == MAX_NUM_CANDIDATES  # depth capped at 10000, no extra result past it
    assert window.num_candidates == MAX_NUM_CANDIDATES
    small = page_window(1, 10, max_depth=1000, candidates_factor=1, min_candidates=1)
    assert small.num_candidates >= small.k


def test_last_allowed_page_has_no_extra_and_beyond_says_which_is_the_last():
    last = page_window(10, 100, max_depth=1000)
    assert last.fetch == 1000 and last.max_page == 10 and not last.beyond
    beyond = page_window(11, 100, max_depth=1000)
    assert beyond.beyond and "last page for this size is 10" in beyond.beyond_notice()


@pytest.mark.parametrize("page,size", [(0, 10), (-1, 10), (1, 0)])
def test_page_and_size_must_be_positive(page, size):
    with pytest.raises(QueryError):
        page_window(page, size, max_depth=1000)


# --------------------------------------------------------------------------- parsing


def test_parse_reads_text_filters_and_paging():
    request = parse(q=" red bicycle ", page="2", size="10", category=["animal", "food", "animal"],
                    color="warm", tag=["cat"], format=["png"], date_from="2020-01-01", date_to="2020-12-31",
                    min_width="640", min_height="480", min_similarity="0.2", mode="hybrid", facets="1")
    assert request.text == "red bicycle"
    assert (request.page, request.size, request.mode) == (2, 10, "hybrid")
    assert request.filters.selected("category") == ("animal", "food")
    assert request.filters.selected("format") == ("PNG",)
    assert request.filters.bounds("date") == (date(2020, 1, 1), date(2020, 12, 31))
    assert request.filters.bounds("width") == (640, None)
    assert request.min_similarity == pytest.approx(0.2)
    assert request.with_facets is True


def test_defaults_browse_the_collection():
    request = parse()
    assert request.text is None and request.similar_to is None and request.vector is None
    assert (request.page, request.size, request.mode) == (1, 24, "semantic")
    assert request.filters.is_empty()


@pytest.mark.parametrize("params,message", [
    ({"page": "two"}, "page must be a whole number"),
    ({"page": "0"}, "page must be at least 1"),
    ({"size": "1000"}, "size must be at most 100"),
    ({"mode": "fuzzy"}, "mode must be one of"),
    ({"mode": "HYBRID"}, "mode must be one of"),
    ({"min_similarity": "high"}, "min_similarity must be a number"),
    ({"min_similarity": "1.5"}, "min_similarity must be at most 1"),
    ({"date_from": "yesterday"}, "date_from: expected an RFC 3339 date"),
    ({"date_from": "2021-02-30"}, "date_from: expected an RFC 3339 date"),
    ({"min_width": "-3"}, "min_width must be between 0 and 1e"),
    ({"q": "x" * 1001}, "q is too long"),
    ({"similar": "../../etc/passwd"}, "similar breaks the rule"),
    ({"vec": "!!!"}, "vec"),
    ({"vec": "AAAAAA"}, "non-zero"),
    ({"category": [f"c{i}" for i in range(30)]}, "category takes at most 20 values"),
    ({"page": ["1", "2"]}, "give it once"),
    ({"facets": "maybe"}, "facets must be true or false"),
])
def test_bad_parameters_are_query_errors_naming_the_parameter(params, message):
    with pytest.raises(QueryError, match=message):
        parse(**params)


def test_a_reversed_range_or_a_range_given_both_ways_is_read_as_given():
    assert parse(date_from="2022-01-01", date_to="2021-01-01").filters.bounds("date") == (date(2022, 1, 1),
                                                                                         date(2021, 1, 1))
    narrowed = parse(width="100..900", min_width="300").filters.bounds("width")
    assert narrowed == (300, 900)


def test_request_links_round_trip_through_the_parser():
    request = parse(q="猫", page="3", size="12", category=["animal"], color=["cool"], date_to="2023-06-01",
                    min_height="100", min_similarity="0.25", mode="hybrid")
    pairs = request.to_params()
    params: dict[str, list[str]] = {}
    for key, value in pairs:
        params.setdefault(key, []).append(value)
    assert parse(**params) == request
    assert ("page", "4") in request.to_params(page=4)
    assert all(key != "page" for key, _ in request.to_params(page=1))


def test_vector_token_round_trips_normalised():
    vector = [0.6, 0.8, 0.0, 0.0]
    token = encode_vector(vector)
    assert "=" not in token and "/" not in token
    decoded = decode_vector(token)
    assert decoded == pytest.approx((0.6, 0.8, 0.0, 0.0), abs=1e-3)
    request = parse(vec=token)
    assert request.vector == decoded


# --------------------------------------------------------------------------- bodies


def test_filters_go_inside_knn_with_the_excluded_ids():
    filters = parse_filters({"category": ["animal"], "color": ["warm", "cool"], "min_width": "100"})
    window = page_window(2, 5, max_depth=100)
    body = build_knn_search([1.0, 0.0], window, filters, exclude_ids=["abc"], min_similarity=0.3)
    knn = body["knn"]
    assert knn["field"] == VECTOR_FIELD and knn["k"] == 11 and knn["similarity"] == 0.3
    clauses = knn["filter"]["bool"]["filter"]
    assert {"terms": {"category": ["animal"]}} in clauses
    assert {"terms": {"color_scheme": ["warm", "cool"]}} in clauses
    assert {"range": {"width": {"gte": 100}}} in clauses
    assert knn["filter"]["bool"]["must_not"] == [{"ids": {"values": ["abc"]}}]
    assert (body["from"], body["size"]) == (5, 6)
    assert body["_source"] == {"excludes": [VECTOR_FIELD, "faces.vector"]}


def test_no_filters_means_no_knn_filter():
    body = build_knn_search([1.0], page_window(1, 3, max_depth=100), SearchFilters())
    assert "filter" not in body["knn"] and "similarity" not in body["knn"]
    assert build_filter(SearchFilters()) is None


def test_rescoring_rides_on_the_window_through_deeper_ranking():
    window = page_window(1, 10, max_depth=100, rescore_oversample=4.0)
    knn = build_knn_search([1.0], deepened(window, 50), SearchFilters())["knn"]
    assert knn["rescore_vector"] == {"oversample": 4.0} and knn["k"] == 50
    assert "rescore_vector" not in build_knn_search([1.0], page_window(1, 10, max_depth=100), SearchFilters())["knn"]


def test_fusion_leg_starts_at_the_top_without_sources():
    body = build_knn_search([1.0], page_window(3, 10, max_depth=100), SearchFilters(), with_source=False,
                            from_top=True)
    assert (body["from"], body["size"], body["_source"]) == (0, 31, False)


def test_date_filter_falls_back_to_file_date_for_photos_without_one():
    clause = build_filter(parse_filters({"date_from": "2021-03-01"}))["bool"]["filter"][0]
    taken, fallback = clause["bool"]["should"]
    assert taken == {"range": {"taken_at": {"gte": "2021-03-01||/d"}}}
    assert fallback["bool"]["must_not"] == [{"exists": {"field": "taken_at"}}]
    assert fallback["bool"]["filter"] == [{"range": {"file_modified_at": {"gte": "2021-03-01||/d"}}}]


def test_bm25_searches_titles_tags_captions_file_names_and_text_in_images_with_filters():
    body = build_bm25_search("red car", 30, parse_filters({"format": ["jpeg"]}), exclude_ids=["x"])
    words, grams = body["query"]["bool"]["must"][0]["bool"]["should"]
    match = words["multi_match"]
    assert match["query"] == "red car"
    assert {f.split("^")[0] for f in match["fields"]} == {"title", "tags.text", "caption", "file_name", "ocr_text",
                                                          "study_description", "series_description"}
    # A word the reader ran into the next one ("redcar") is still found, as a run of trigrams.
    assert grams == {"match_phrase": {"ocr_text.grams": {"query": "red car", "boost": 0.5}}}
    assert body["query"]["bool"]["filter"] == [{"terms": {"format": ["JPEG"]}}]
    assert body["query"]["bool"]["must_not"] == [{"ids": {"values": ["x"]}}]
    assert body["size"] == 30 and body["_source"] is False


def test_facet_counts_leave_out_their_own_filter():
    aggs = build_facets_search(parse_filters({"category": ["animal"], "color": ["warm"]}))["aggs"]
    category_filter = aggs["category"]["filter"]["bool"]["filter"]
    assert category_filter == [{"terms": {"color_scheme": ["warm"]}}]
    assert {"terms": {"category": ["animal"]}} in aggs["color"]["filter"]["bool"]["filter"]
    assert len(aggs["matching"]["filter"]["bool"]["filter"]) == 2


def test_parse_facets_marks_selected_values_and_keeps_zero_count_choices():
    filters = parse_filters({"category": ["animal", "sky"]})
    aggregations = {
        "category": {"values": {"buckets": [{"key": "animal", "doc_count": 3}, {"key": "food", "doc_count": 2}]}},
        "matching": {"doc_count": 3},
    }
    parsed = parse_facets(aggregations, filters)
    assert parsed["matching"] == 3
    assert parsed["facets"]["category"] == [
        {"value": "animal", "count": 3, "selected": True},
        {"value": "food", "count": 2, "selected": False},
        {"value": "sky", "count": 0, "selected": True},
    ]
    assert parsed["facets"]["color"] == []


# --------------------------------------------------------------------------- fusion and scores


def test_rrf_scores_are_sums_of_reciprocal_ranks():
    fused = dict(reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]], rank_constant=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert fused["b"] == pytest.approx(1 / 62)


def test_rrf_rewards_agreement_over_a_single_top_rank():
    order = [doc for doc, _ in reciprocal_rank_fusion([["x", "both"], ["y", "both"]], rank_constant=1)]
    assert order[0] == "both"  # 1/3 + 1/3 beats 1/2


def test_rrf_ties_break_by_best_rank_then_list_order_and_duplicates_count_once():
    order = [doc for doc, _ in reciprocal_rank_fusion([["a", "b"], ["b", "a"]])]
    assert order == ["a", "b"]  # equal scores; both have a rank 1, a's is in the first list
    fused = dict(reciprocal_rank_fusion([["a", "a", "b"]], rank_constant=10))
    assert fused["a"] == pytest.approx(1 / 11) and fused["b"] == pytest.approx(1 / 13)
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([["a"]], rank_constant=0)


def test_cosine_from_elasticsearch_score():
    assert cosine_from_score(1.0) == 1.0
    assert cosine_from_score(0.5) == 0.0
    assert cosine_from_score(0.9) == pytest.approx(0.8)
    assert cosine_from_score(-0.1) == -1.0  # clamped
