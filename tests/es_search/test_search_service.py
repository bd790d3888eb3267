"""The search service against the real node: hand-made vectors make every expected order known in advance."""

from __future__ import annotations

import math
import uuid
from dataclasses import replace

import numpy as np
import pytest
from elasticsearch import helpers

from es_search.errors import ImageNotFound, IndexMissing, QueryError
from es_search.index import delete_index, ensure_index
from es_search.search import SearchRequest, SearchService
from es_search.search.filters import SearchFilters, parse_filters
from es_search.search.fusion import reciprocal_rank_fusion

DIMS = 8


def unit_at(cosine: float, axis: int) -> list[float]:
    """A unit vector whose cosine with e0 is `cosine`; the rest of it points along `axis`."""
    vector = [0.0] * DIMS
    vector[0] = cosine
    vector[axis] = math.sqrt(max(0.0, 1.0 - cosine * cosine))
    return vector


QUERY = [1.0] + [0.0] * (DIMS - 1)

# id → (cosine with QUERY, fields). Titles give BM25 something to find in hybrid mode.
DOCS = {
    "a" * 64: (0.98, dict(title="red fox in snow", category="animal", color_scheme="warm", tags=["fox", "snow"],
                          format="JPEG", width=1200, height=800, taken_at="2021-01-10T10:00:00Z",
                          indexed_at="2024-01-01T00:00:00Z")),
    "b" * 64: (0.90, dict(title="grey wolf", category="animal", color_scheme="cool", tags=["wolf"],
                          format="PNG", width=640, height=480, taken_at="2021-06-01T10:00:00Z",
                          indexed_at="2024-01-02T00:00:00Z")),
    "c" * 64: (0.70, dict(title="mountain lake at dawn", category="landscape", color_scheme="cool",
                          tags=["lake", "mountain"], format="JPEG", width=4000, height=3000,
                          file_modified_at="2022-03-03T00:00:00Z", indexed_at="2024-01-03T00:00:00Z")),
    "d" * 64: (0.50, dict(title="bowl of ramen", category="food", color_scheme="warm", tags=["noodles"],
                          format="JPEG", width=800, height=800, taken_at="2023-02-02T12:00:00Z",
                          indexed_at="2024-01-04T00:00:00Z")),
    "e" * 64: (0.20, dict(title="city bus", category="vehicle", color_scheme="neutral", tags=["bus"],
                          format="WEBP", width=300, height=200, taken_at="2020-05-05T00:00:00Z",
                          indexed_at="2024-01-05T00:00:00Z")),
    "f" * 64: (-0.50, dict(title="fox sticker", category="art", color_scheme="warm", tags=["fox"],
                           format="PNG", width=100, height=100, indexed_at="2024-01-06T00:00:00Z")),
}
RANKED = ["a" * 64, "b" * 64, "c" * 64, "d" * 64, "e" * 64, "f" * 64]


class LookupEncoder:
    """A hand-made text encoder: known texts map to known vectors (to test ranking, not a model)."""

    name = "lookup"
    dims = DIMS

    def __init__(self, table: dict[str, list[float]]):
        self.table = table
        self.calls = 0

    def encode_texts(self, texts):
        self.calls += 1
        return np.asarray([self.table[t] for t in texts], dtype=np.float32)

    def encode_images(self, images):
        raise NotImplementedError


@pytest.fixture(scope="module")
def indexed_settings(base_settings, es, tmp_path_factory):
    """One index for the whole module: these tests only read it."""
    alias = f"test-search-{uuid.uuid4().hex[:12]}"
    settings = base_settings.with_overrides(index_alias=alias, data_dir=tmp_path_factory.mktemp("data"))
    yield settings
    delete_index(es, alias)


@pytest.fixture(scope="module")
def service(es, indexed_settings):
    settings = indexed_settings
    ensure_index(es, settings, DIMS)
    actions = []
    for axis, (doc_id, (cosine, fields)) in enumerate(DOCS.items(), start=1):
        source = dict(sha256=doc_id, file_name=f"{doc_id[:1]}.jpg", paths=[f"/photos/{doc_id[:1]}.jpg"],
                      thumbnail=f"{doc_id[:2]}/{doc_id}.jpg", image_embedding=unit_at(cosine, axis), **fields)
        actions.append({"_index": settings.index_alias, "_id": doc_id, "_source": source})
    helpers.bulk(es, actions, refresh="wait_for")
    encoder = LookupEncoder({"fox": QUERY, "wolf": unit_at(0.9, 2)})
    return SearchService(es, settings, text_encoder=encoder, image_encoder=encoder)


def ids(result) -> list[str]:
    return [hit.id for hit in result.hits]


def by_vector(service: SearchService, vector, request: SearchRequest | None = None):
    """kNN with a hand-made query vector, through the service's own path for a given vector."""
    return service.search(replace(request or SearchRequest(), vector=tuple(float(x) for x in vector)))


def test_vector_search_ranks_by_cosine_and_reports_it(service):
    result = by_vector(service, QUERY, SearchRequest(size=6))
    assert ids(result) == RANKED
    for hit in result.hits:
        assert hit.similarity == pytest.approx(DOCS[hit.id][0], abs=0.02)  # int8 quantisation error
        assert hit.score == hit.similarity
        assert "image_embedding" not in hit.source
    assert result.kind == "vector" and result.mode == "semantic" and not result.has_next


def test_text_search_encodes_the_text(service):
    result = service.search(SearchRequest(text="fox", size=3))
    assert result.kind == "text"
    assert ids(result) == RANKED[:3]


def test_paging_a_text_search_encodes_the_text_once(es, settings):
    encoder = LookupEncoder({"once": QUERY})
    service = SearchService(es, settings, text_encoder=encoder)
    ensure_index(es, settings, DIMS)
    for page in (1, 2, 3):
        service.search(SearchRequest(text="once", size=1, page=page))
    assert encoder.calls == 1


@pytest.mark.parametrize("params,expected", [
    ({"category": ["animal"]}, ["a", "b"]),
    ({"category": ["animal", "food"]}, ["a", "b", "d"]),
    ({"color": ["cool"]}, ["b", "c"]),
    ({"tag": ["fox"]}, ["a", "f"]),
    ({"format": ["png"]}, ["b", "f"]),
    ({"min_width": "700", "min_height": "700"}, ["a", "c", "d"]),
    ({"date_from": "2021-01-01", "date_to": "2021-12-31"}, ["a", "b"]),
    # c has no capture date; its file date (2022-03-03) counts
    ({"date_from": "2022-01-01", "date_to": "2022-12-31"}, ["c"]),
    ({"category": ["animal"], "color": ["warm"]}, ["a"]),
    ({"category": ["nothing-like-this"]}, []),
])
def test_filters_narrow_the_ranking(service, params, expected):
    result = by_vector(service, QUERY, SearchRequest(size=10, filters=parse_filters(params)))
    assert ids(result) == [letter * 64 for letter in expected]


def test_pages_walk_the_ranking_without_gaps_or_repeats(service):
    pages = [by_vector(service, QUERY, SearchRequest(size=2, page=page)) for page in (1, 2, 3)]
    assert [ids(p) for p in pages] == [RANKED[0:2], RANKED[2:4], RANKED[4:6]]
    assert [p.has_next for p in pages] == [True, True, False]
    assert pages[1].to_dict()["hits"][0]["rank"] == 3


def test_a_page_past_the_depth_limit_is_empty_with_a_notice(es, settings):
    service = SearchService(es, settings.with_overrides(max_result_window=10))
    result = by_vector(service, QUERY, SearchRequest(size=5, page=3))
    assert result.hits == [] and not result.has_next and "goes past the 10 best results" in result.notice


def test_min_similarity_drops_weaker_matches(service):
    result = by_vector(service, QUERY, SearchRequest(size=10, min_similarity=0.6))
    assert ids(result) == RANKED[:3]


def test_find_similar_uses_the_stored_vector_and_leaves_the_image_out(service):
    target = "b" * 64
    result = service.search(SearchRequest(similar_to=target, size=10))
    assert result.kind == "similar"
    assert target not in ids(result)
    stored = np.asarray(unit_at(0.9, 2))
    expected = sorted((doc for doc in DOCS if doc != target),
                      key=lambda doc: -float(np.dot(stored, unit_at(DOCS[doc][0], list(DOCS).index(doc) + 1))))
    assert ids(result) == expected


def test_find_similar_respects_filters(service):
    result = service.similar("a" * 64, size=5, filters=parse_filters({"color": ["warm"]}))
    assert ids(result) == ["d" * 64, "f" * 64]


def test_unknown_image_and_missing_index(service, es):
    settings = service.settings
    with pytest.raises(ImageNotFound):
        service.search(SearchRequest(similar_to="0" * 64))
    with pytest.raises(ImageNotFound):
        service.get_image("0" * 64)
    assert service.get_image("c" * 64)["title"] == "mountain lake at dawn"
    empty = SearchService(es, settings.with_overrides(index_alias=settings.index_alias + "-none"))
    with pytest.raises(IndexMissing, match="ingest images first"):
        by_vector(empty, QUERY)
    with pytest.raises(IndexMissing):
        empty.search(SearchRequest())
    assert empty.health()["ok"] is False


def test_query_vector_of_the_wrong_size_is_a_query_error(service):
    with pytest.raises(QueryError, match="3 dimensions but the index holds 8"):
        by_vector(service, [1.0, 0.0, 0.0])
    zero = by_vector(service, [0.0] * DIMS)
    assert zero.hits == [] and "no direction" in zero.notice


def test_hybrid_fuses_knn_and_keywords_by_reciprocal_rank(service):
    settings = service.settings
    # "wolf": kNN order is b, a, c, d, e, f-ish; BM25 finds only the wolf title (b).
    knn_only = service.search(SearchRequest(text="wolf", size=6))
    hybrid = service.search(SearchRequest(text="wolf", size=6, mode="hybrid"))
    assert hybrid.mode == "hybrid"
    expected = [doc for doc, _ in reciprocal_rank_fusion([ids(knn_only), ["b" * 64]],
                                                         rank_constant=settings.rrf_rank_constant)]
    assert ids(hybrid) == expected
    assert hybrid.hits[0].id == "b" * 64
    assert hybrid.hits[0].score == pytest.approx(2 / (settings.rrf_rank_constant + 1))
    assert hybrid.hits[0].similarity == pytest.approx(knn_only.hits[0].similarity)


def test_hybrid_lifts_a_keyword_match_above_closer_vectors(service):
    # "fox" by vector: a, b, c, d, e, f (f is last, cosine -0.5); by keywords: a and f ("fox" in title/tags).
    semantic = service.search(SearchRequest(text="fox", size=6))
    hybrid = service.search(SearchRequest(text="fox", size=6, mode="hybrid"))
    assert ids(semantic)[-1] == "f" * 64
    position = ids(hybrid).index("f" * 64)
    assert position < 5  # 1/(60+6) + 1/(60+2) outranks 1/(60+2) .. 1/(60+5) alone
    assert ids(hybrid)[0] == "a" * 64


def test_hybrid_pages_slice_the_fused_ranking(service):
    whole = ids(service.search(SearchRequest(text="fox", size=6, mode="hybrid")))
    first = service.search(SearchRequest(text="fox", size=4, mode="hybrid"))
    second = service.search(SearchRequest(text="fox", size=4, page=2, mode="hybrid"))
    assert ids(first) + ids(second) == whole
    assert first.has_next and not second.has_next


def test_facets_count_the_collection_under_the_other_filters(service):
    counts = service.facets(parse_filters({"category": ["animal"]}))
    category = {entry["value"]: entry["count"] for entry in counts["facets"]["category"]}
    assert category == {"animal": 2, "landscape": 1, "food": 1, "vehicle": 1, "art": 1}
    color = {entry["value"]: entry["count"] for entry in counts["facets"]["color"]}
    assert color == {"warm": 1, "cool": 1}  # within the chosen category
    assert counts["matching"] == 2
    selected = [e for e in counts["facets"]["category"] if e["selected"]]
    assert [e["value"] for e in selected] == ["animal"]


def test_search_with_facets_in_one_round_trip(service):
    result = service.search(SearchRequest(text="fox", size=2, with_facets=True))
    data = result.to_dict()
    assert data["matching"] == 6
    assert {e["value"] for e in data["facets"]["format"]} == {"JPEG", "PNG", "WEBP"}
    assert [h["rank"] for h in data["hits"]] == [1, 2]


def test_browse_lists_newest_first_with_a_total(service):
    result = service.search(SearchRequest(size=4, filters=SearchFilters(terms={"color": ("warm",)})))
    assert result.kind == "browse" and result.total == 3
    assert ids(result) == ["f" * 64, "d" * 64, "a" * 64]
    assert all(hit.score is None for hit in result.hits)


def test_health_reports_documents_only_in_its_details(service):
    assert set(service.health()) == {"ok", "status"}
    report = service.health(details=True)
    assert report["ok"] is True and report["details"]["documents"] == 6
