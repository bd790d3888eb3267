"""Pure builders of Elasticsearch request bodies: how deep a page must look, kNN, BM25, browsing.

Nothing here talks to Elasticsearch; `es_search.search.service` sends what is built here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from es_search.errors import QueryError
from es_search.fields import HIDDEN_FIELDS, VECTOR_FIELD, FieldRegistry, load_registry
from es_search.search.filters import SearchFilters, build_filter

MAX_NUM_CANDIDATES = 10_000  # Elasticsearch refuses knn.num_candidates above this


@dataclass(frozen=True)
class PageWindow:
    """Which slice of the ranking a page shows and how deep Elasticsearch must look to fill it.

    `fetch` is one more than the page needs (when depth allows), so we know whether a next page exists.
    """

    page: int
    size: int
    offset: int
    fetch: int  # results to rank: offset + size (+1 to detect a next page), never past max_depth
    k: int
    num_candidates: int
    max_depth: int
    rescore_oversample: float = 0.0  # re-rank the best k × this many on the float vectors (quantized only)

    @property
    def max_page(self) -> int:
        return max(1, self.max_depth // self.size)

    @property
    def beyond(self) -> bool:
        """The page lies past the deepest results ranked: it is empty, with a notice saying so."""
        return self.offset + self.size > self.max_depth

    def beyond_notice(self) -> str:
        return (f"page {self.page} with size {self.size} goes past the {self.max_depth} best results we rank; the "
                f"last page for this size is {self.max_page} (narrow the search with filters instead)")


def page_window(page: int, size: int, *, max_depth: int, candidates_factor: int = 4,
                min_candidates: int = 100, rescore_oversample: float = 0.0) -> PageWindow:
    """kNN depth for a page: k = results up to this page's end; num_candidates = k × factor, at least
    `min_candidates`, at most 10000; rescoring as given. A page past `max_depth` is `beyond` (the service
    answers it empty with a notice, never silently)."""
    if page < 1:
        raise QueryError(f"page must be 1 or more, got {page}")
    if size < 1:
        raise QueryError(f"size must be 1 or more, got {size}")
    max_depth = min(max_depth, MAX_NUM_CANDIDATES)
    offset = (page - 1) * size
    fetch = max(1, min(offset + size + 1, max_depth))
    num_candidates = min(MAX_NUM_CANDIDATES, max(fetch * candidates_factor, min_candidates, fetch))
    return PageWindow(page=page, size=size, offset=offset, fetch=fetch, k=fetch,
                      num_candidates=num_candidates, max_depth=max_depth, rescore_oversample=rescore_oversample)


def deepened(window: PageWindow, depth: int, candidates_factor: int = 4) -> PageWindow:
    """The same page ranked `depth` deep (at least as deep as it was, never past max_depth): the cutoff and
    the sort need the best results of the query whichever page is shown."""
    depth = min(max(depth, window.fetch), window.max_depth)
    candidates = min(MAX_NUM_CANDIDATES, max(window.num_candidates, depth * candidates_factor))
    return replace(window, fetch=depth, k=depth, num_candidates=candidates)


def source_without_vector() -> dict:
    """`_source` filter for hits: vectors are large and no page shows them."""
    return {"excludes": list(HIDDEN_FIELDS)}


def build_knn(vector: Sequence[float], window: PageWindow, filters: SearchFilters, *,
              exclude_ids: Sequence[str] = (), min_similarity: float | None = None,
              registry: FieldRegistry | None = None) -> dict:
    """The `knn` section: filters go inside it (pre-filtering), so every one of the k results passes them."""
    knn: dict = {"field": VECTOR_FIELD, "query_vector": [float(x) for x in vector],
                 "k": window.k, "num_candidates": window.num_candidates}
    if window.rescore_oversample:
        # The int8 (or binary) scores order the candidates; the best k × oversample are re-ranked on floats.
        knn["rescore_vector"] = {"oversample": window.rescore_oversample}
    query_filter = build_filter(filters, exclude_ids, registry)
    if query_filter is not None:
        knn["filter"] = query_filter
    if min_similarity is not None:
        # For cosine the threshold is on the raw cosine, not on the document score.
        knn["similarity"] = float(min_similarity)
    return knn


def build_knn_search(vector: Sequence[float], window: PageWindow, filters: SearchFilters, *,
                     exclude_ids: Sequence[str] = (), min_similarity: float | None = None,
                     with_source: bool = True, from_top: bool = False, registry: FieldRegistry | None = None) -> dict:
    """A search body ranking by vector similarity; `from_top` returns all `fetch` results (for fusion, the
    cutoff and the sort)."""
    offset = 0 if from_top else window.offset
    return {
        "knn": build_knn(vector, window, filters, exclude_ids=exclude_ids, min_similarity=min_similarity,
                         registry=registry),
        "from": offset,
        "size": window.fetch - offset,
        "_source": source_without_vector() if with_source else False,
        "track_total_hits": False,
    }


# A word read without the space before it ("stationbalance") is still found through the trigram sub-fields
# (mappings/fields.json: ocr_text.grams): the query's trigrams as a phrase, that is as a substring of one
# line; they weigh less than whole words.
GRAMS_BOOST = 0.5


def build_bm25_search(text: str, size: int, filters: SearchFilters, *, exclude_ids: Sequence[str] = (),
                      registry: FieldRegistry | None = None, highlight: bool = False) -> dict:
    """A keyword search over the registry's searched fields (titles and tags weigh most, file names least)
    with the same filters, ids only; with `highlight`, the matched fragments of each field too."""
    registry = registry or load_registry()
    words = {"multi_match": {"query": text, "fields": registry.bm25_fields(), "type": "best_fields"}}
    grams = [{"match_phrase": {field: {"query": text, "boost": GRAMS_BOOST}}} for field in registry.gram_fields()]
    query: dict = {"bool": {"must": [{"bool": {"should": [words, *grams], "minimum_should_match": 1}}
                                     if grams else words]}}
    query_filter = build_filter(filters, exclude_ids, registry)
    if query_filter is not None:
        query["bool"].update(query_filter["bool"])
    body = {"query": query, "size": size, "_source": False, "track_total_hits": False}
    if highlight:
        body["highlight"] = keyword_highlight(registry)
    return body


def keyword_highlight(registry: FieldRegistry) -> dict:
    """Highlighting of the keyword fields: HTML-escaped fragments with the matches in <em>, so a page may show
    them as they are."""
    return {"fields": {target.split("^")[0]: {} for target in registry.bm25_fields()}, "encoder": "html",
            "number_of_fragments": 3, "fragment_size": 120}


def build_keyword_match(text: str, image_id: str, registry: FieldRegistry | None = None) -> dict:
    """Whether, and where, the keywords of `text` match one image: its highlighted fields (an image's page)."""
    body = build_bm25_search(text, 1, SearchFilters(), registry=registry, highlight=True)
    body["query"]["bool"]["filter"] = [{"ids": {"values": [image_id]}}]
    return body


def build_vectors_search(ids: Sequence[str]) -> dict:
    """The stored vectors of some images, in one request: Elasticsearch 9 leaves vectors out of `_source`
    unless asked with `exclude_vectors: false`."""
    return {"query": {"ids": {"values": list(ids)}}, "size": len(ids), "track_total_hits": False,
            "_source": {"includes": [VECTOR_FIELD], "exclude_vectors": False}}


def build_browse_search(window: PageWindow, filters: SearchFilters, registry: FieldRegistry | None = None) -> dict:
    """No query: the newest images that pass the filters."""
    query_filter = build_filter(filters, registry=registry) or {"match_all": {}}
    return {
        "query": query_filter,
        "sort": [{"indexed_at": {"order": "desc", "missing": "_last"}}, {"sha256": "asc"}],
        "from": window.offset,
        "size": window.fetch - window.offset,
        "_source": source_without_vector(),
        "track_total_hits": True,
    }
