"""Pure builders for search requests: filters, kNN, BM25, facets, pagination depth and reciprocal rank fusion.

Nothing here talks to Elasticsearch. Pages, the JSON API and the CLI parse their input into a `SearchRequest`
with the same functions, and `es_search.search.SearchService` sends the bodies built here.
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date

from es_search.errors import QueryError

VECTOR_FIELD = "image_embedding"  # the dense_vector field of mappings/images.json
MAX_NUM_CANDIDATES = 10_000  # Elasticsearch refuses knn.num_candidates above this
SEARCH_MODES = ("semantic", "hybrid")
# Keyword search for hybrid mode: titles and tags say most about an image, file names least.
BM25_FIELDS = ("title^2", "tags.text^2", "caption", "file_name")
# Facet name (also the query parameter) → keyword field aggregated for the filter panel.
FACET_FIELDS = {"category": "category", "color": "color_scheme", "tag": "tags", "format": "format"}
FACET_SIZES = {"category": 30, "color": 10, "tag": 30, "format": 10}
MAX_FILTER_VALUES = 20  # values per multi-valued filter; more is not a person clicking checkboxes
MAX_TEXT_CHARS = 1000
MAX_ID_CHARS = 512  # Elasticsearch's own limit on _id length (bytes; ids here are hex)
MAX_VECTOR_DIMS = 4096




# --------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class SearchFilters:
    """What narrows the results. Empty tuples and None mean "no restriction"."""

    categories: tuple[str, ...] = ()
    colors: tuple[str, ...] = ()  # colour schemes: warm, cool, neutral
    tags: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    date_from: date | None = None  # inclusive, on the photo's date (see `date_range_clause`)
    date_to: date | None = None  # inclusive
    min_width: int | None = None
    min_height: int | None = None

    def is_empty(self) -> bool:
        return self == SearchFilters()

    def selected(self, facet: str) -> tuple[str, ...]:
        """The values chosen for a facet by its parameter name (category, color, tag, format)."""
        return {"category": self.categories, "color": self.colors, "tag": self.tags, "format": self.formats}[facet]

    def to_params(self) -> list[tuple[str, str]]:
        """Query-string pairs that `parse_filters` reads back into an equal object (for links)."""
        pairs: list[tuple[str, str]] = []
        for name in FACET_FIELDS:
            pairs.extend((name, value) for value in self.selected(name))
        for name in ("date_from", "date_to"):
            value = getattr(self, name)
            if value is not None:
                pairs.append((name, value.isoformat()))
        for name in ("min_width", "min_height"):
            value = getattr(self, name)
            if value is not None:
                pairs.append((name, str(value)))
        return pairs

    def to_dict(self) -> dict:
        data = asdict(self)
        for name in ("date_from", "date_to"):
            if data[name] is not None:
                data[name] = data[name].isoformat()
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def filter_clauses_by_facet(filters: SearchFilters) -> dict[str, dict]:
    """One bool-filter clause per active filter, keyed by its parameter name.

    Keyed so that facet counts can leave their own filter out (counts for the other values of a facet
    must not be zeroed by the value already chosen).
    """
    clauses: dict[str, dict] = {}
    for name, field_name in FACET_FIELDS.items():
        values = filters.selected(name)
        if values:
            clauses[name] = {"terms": {field_name: list(values)}}
    if filters.date_from or filters.date_to:
        clauses["date"] = date_range_clause(filters.date_from, filters.date_to)
    if filters.min_width is not None:
        clauses["min_width"] = {"range": {"width": {"gte": filters.min_width}}}
    if filters.min_height is not None:
        clauses["min_height"] = {"range": {"height": {"gte": filters.min_height}}}
    return clauses


def date_range_clause(date_from: date | None, date_to: date | None) -> dict:
    """Photos taken in the range; for photos without a capture date, the file's modification date counts.

    Whole days: `||/d` rounds the lower bound down and the upper bound up to the day's ends.
    """
    bounds: dict[str, str] = {}
    if date_from:
        bounds["gte"] = f"{date_from.isoformat()}||/d"
    if date_to:
        bounds["lte"] = f"{date_to.isoformat()}||/d"
    return {"bool": {"minimum_should_match": 1, "should": [
        {"range": {"taken_at": dict(bounds)}},
        {"bool": {"must_not": [{"exists": {"field": "taken_at"}}],
                  "filter": [{"range": {"file_modified_at": dict(bounds)}}]}},
    ]}}


def build_filter(filters: SearchFilters, exclude_ids: Sequence[str] = ()) -> dict | None:
    """A bool query holding every filter (and ids to leave out), or None when nothing restricts."""
    clauses = list(filter_clauses_by_facet(filters).values())
    if not clauses and not exclude_ids:
        return None
    query: dict = {"bool": {"filter": clauses}}
    if exclude_ids:
        query["bool"]["must_not"] = [{"ids": {"values": list(exclude_ids)}}]
    return query


# --------------------------------------------------------------------------- pagination


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

    @property
    def max_page(self) -> int:
        return max(1, self.max_depth // self.size)


def page_window(page: int, size: int, *, max_depth: int, candidates_factor: int = 4,
                min_candidates: int = 100) -> PageWindow:
    """kNN depth for a page: k = results up to this page's end; num_candidates = k × factor, at least
    `min_candidates`, at most 10000. A page past `max_depth` is a QueryError, not a silent empty page."""
    if page < 1:
        raise QueryError(f"page must be 1 or more, got {page}")
    if size < 1:
        raise QueryError(f"size must be 1 or more, got {size}")
    max_depth = min(max_depth, MAX_NUM_CANDIDATES)
    offset = (page - 1) * size
    if offset + size > max_depth:
        deepest = max(1, max_depth // size)
        raise QueryError(f"page {page} with size {size} goes past the {max_depth} best results we rank; "
                         f"the last page for this size is {deepest} (narrow the search with filters instead)")
    fetch = min(offset + size + 1, max_depth)
    num_candidates = min(MAX_NUM_CANDIDATES, max(fetch * candidates_factor, min_candidates, fetch))
    return PageWindow(page=page, size=size, offset=offset, fetch=fetch, k=fetch,
                      num_candidates=num_candidates, max_depth=max_depth)


# --------------------------------------------------------------------------- request bodies


def source_without_vector() -> dict:
    """`_source` filter for hits: the vector is large and no page shows it."""
    return {"excludes": [VECTOR_FIELD]}


def build_knn(vector: Sequence[float], window: PageWindow, filters: SearchFilters, *,
              exclude_ids: Sequence[str] = (), min_similarity: float | None = None) -> dict:
    """The `knn` section: filters go inside it (pre-filtering), so every one of the k results passes them."""
    knn: dict = {"field": VECTOR_FIELD, "query_vector": [float(x) for x in vector],
                 "k": window.k, "num_candidates": window.num_candidates}
    query_filter = build_filter(filters, exclude_ids)
    if query_filter is not None:
        knn["filter"] = query_filter
    if min_similarity is not None:
        # For cosine the threshold is on the raw cosine, not on the document score.
        knn["similarity"] = float(min_similarity)
    return knn


def build_knn_search(vector: Sequence[float], window: PageWindow, filters: SearchFilters, *,
                     exclude_ids: Sequence[str] = (), min_similarity: float | None = None,
                     with_source: bool = True, from_top: bool = False) -> dict:
    """A search body ranking by vector similarity; `from_top` returns all `fetch` results (for fusion)."""
    offset = 0 if from_top else window.offset
    return {
        "knn": build_knn(vector, window, filters, exclude_ids=exclude_ids, min_similarity=min_similarity),
        "from": offset,
        "size": window.fetch - offset,
        "_source": source_without_vector() if with_source else False,
        "track_total_hits": False,
    }


def build_bm25_search(text: str, size: int, filters: SearchFilters, *, exclude_ids: Sequence[str] = ()) -> dict:
    """A keyword search over titles, tags, captions and file names with the same filters, ids only."""
    query: dict = {"bool": {"must": [{"multi_match": {"query": text, "fields": list(BM25_FIELDS),
                                                       "type": "best_fields"}}]}}
    query_filter = build_filter(filters, exclude_ids)
    if query_filter is not None:
        query["bool"].update(query_filter["bool"])
    return {"query": query, "size": size, "_source": False, "track_total_hits": False}


def build_browse_search(window: PageWindow, filters: SearchFilters) -> dict:
    """No query: the newest images that pass the filters."""
    query_filter = build_filter(filters) or {"match_all": {}}
    return {
        "query": query_filter,
        "sort": [{"indexed_at": {"order": "desc", "missing": "_last"}}, {"sha256": "asc"}],
        "from": window.offset,
        "size": window.fetch - window.offset,
        "_source": source_without_vector(),
        "track_total_hits": True,
    }


def build_facets_search(filters: SearchFilters) -> dict:
    """Facet counts for the filter panel, over the whole collection.

    A semantic search ranks every image, so there is no "match set" to count; the counts say how many
    images carry each value under the *other* active filters (disjunctive facets: choosing `warm` does
    not hide the count for `cool`). `matching` counts images passing every filter.
    """
    clauses = filter_clauses_by_facet(filters)
    aggs: dict = {}
    for name, field_name in FACET_FIELDS.items():
        others = [clause for key, clause in clauses.items() if key != name]
        aggs[name] = {"filter": {"bool": {"filter": others}},
                      "aggs": {"values": {"terms": {"field": field_name, "size": FACET_SIZES[name]}}}}
    aggs["matching"] = {"filter": {"bool": {"filter": list(clauses.values())}}}
    return {"size": 0, "query": {"match_all": {}}, "aggs": aggs, "track_total_hits": False}


def parse_facets(aggregations: Mapping, filters: SearchFilters) -> dict:
    """`{"facets": {name: [{"value", "count", "selected"}]}, "matching": n}` from the facets response.

    Chosen values stay listed even with a count of 0, so they can be unticked.
    """
    facets: dict[str, list[dict]] = {}
    for name in FACET_FIELDS:
        buckets = aggregations.get(name, {}).get("values", {}).get("buckets", [])
        chosen = set(filters.selected(name))
        entries = [{"value": str(b["key"]), "count": int(b["doc_count"]), "selected": str(b["key"]) in chosen}
                   for b in buckets]
        listed = {entry["value"] for entry in entries}
        entries += [{"value": value, "count": 0, "selected": True} for value in filters.selected(name)
                    if value not in listed]
        facets[name] = entries
    matching = int(aggregations.get("matching", {}).get("doc_count", 0))
    return {"facets": facets, "matching": matching}


# --------------------------------------------------------------------------- fusion and scores


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], rank_constant: int = 60) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(d) = Σ 1 / (rank_constant + rank of d in each list), rank from 1.

    Ties go to the id with the better single rank, then to the earlier list, so the order is deterministic.
    A list naming an id twice counts it once, at its first rank.
    """
    if rank_constant < 1:
        raise ValueError(f"rank_constant must be at least 1, got {rank_constant}")
    scores: dict[str, float] = {}
    best: dict[str, tuple[int, int]] = {}
    for list_number, ranking in enumerate(rankings):
        seen: set[str] = set()
        for rank, doc_id in enumerate(ranking, start=1):
            if doc_id in seen:
                continue
            seen.add(doc_id)
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (rank_constant + rank)
            best[doc_id] = min(best.get(doc_id, (rank, list_number)), (rank, list_number))
    return sorted(scores.items(), key=lambda item: (-item[1], best[item[0]]))


def cosine_from_score(score: float) -> float:
    """Elasticsearch scores cosine kNN hits as (1 + cos) / 2; users are shown the cosine itself."""
    return max(-1.0, min(1.0, 2.0 * float(score) - 1.0))


# --------------------------------------------------------------------------- request parsing


@dataclass(frozen=True)
class SearchRequest:
    """One search as pages, API and CLI ask for it. At most one of text, similar_to and vector is set;
    none of them means browsing the newest images (an uploaded image is passed beside the request)."""

    text: str | None = None
    similar_to: str | None = None
    vector: tuple[float, ...] | None = None
    filters: SearchFilters = field(default_factory=SearchFilters)
    page: int = 1
    size: int = 24
    mode: str = "semantic"
    min_similarity: float | None = None
    with_facets: bool = False

    def to_params(self, **changes) -> list[tuple[str, str]]:
        """Query-string pairs for a link to this search (e.g. `page=` another page)."""
        values = {"q": self.text, "similar": self.similar_to,
                  "vec": encode_vector(self.vector) if self.vector is not None else None,
                  "mode": self.mode if self.mode != "semantic" else None,
                  "min_similarity": None if self.min_similarity is None else f"{self.min_similarity:g}",
                  "size": str(self.size), "page": str(self.page)}
        values.update({k: (None if v is None else str(v)) for k, v in changes.items()})
        pairs = [(k, v) for k, v in values.items() if v not in (None, "") and not (k == "page" and v == "1")]
        return pairs + self.filters.to_params()


def _values(params: Mapping[str, Sequence[str] | str], name: str) -> list[str]:
    raw = params.get(name)
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [raw]
    return [str(v).strip() for v in raw if v is not None and str(v).strip() != ""]


def _single(params, name: str) -> str | None:
    values = _values(params, name)
    if len(values) > 1 and len(set(values)) > 1:
        raise QueryError(f"{name} was given {len(values)} different values; give it once")
    return values[0] if values else None


def _int(params, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = _single(params, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise QueryError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _date(params, name: str) -> date | None:
    raw = _single(params, name)
    if raw is None:
        return None
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise QueryError(f"{name} must be a date like 2024-05-31, got {raw!r}") from None


def _labels(params, name: str) -> tuple[str, ...]:
    values = list(dict.fromkeys(_values(params, name)))  # keep order, drop repeats
    if len(values) > MAX_FILTER_VALUES:
        raise QueryError(f"{name} takes at most {MAX_FILTER_VALUES} values, got {len(values)}")
    for value in values:
        if len(value) > 200:
            raise QueryError(f"{name} value is too long ({len(value)} characters; at most 200)")
    return tuple(values)


def parse_filters(params: Mapping[str, Sequence[str] | str]) -> SearchFilters:
    """Filters from query parameters: category, color, tag, format (each repeatable), date_from, date_to
    (YYYY-MM-DD), min_width, min_height (pixels)."""
    filters = SearchFilters(
        categories=_labels(params, "category"),
        colors=_labels(params, "color"),
        tags=_labels(params, "tag"),
        formats=tuple(v.upper() for v in _labels(params, "format")),
        date_from=_date(params, "date_from"),
        date_to=_date(params, "date_to"),
        min_width=_int(params, "min_width", None, 0, 1_000_000),
        min_height=_int(params, "min_height", None, 0, 1_000_000),
    )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise QueryError(f"date_from ({filters.date_from}) is after date_to ({filters.date_to})")
    return filters


def parse_search_request(params: Mapping[str, Sequence[str] | str], *, default_size: int, max_size: int,
                         allow_similar: bool = True) -> SearchRequest:
    """A SearchRequest from query parameters (q, similar, vec, page, size, mode, min_similarity, facets and
    the filters). Raises QueryError naming the parameter at fault."""
    text = _single(params, "q")
    if text is not None and len(text) > MAX_TEXT_CHARS:
        raise QueryError(f"q is too long ({len(text)} characters; at most {MAX_TEXT_CHARS})")
    similar = _single(params, "similar") if allow_similar else None
    if similar is not None:
        check_image_id(similar)
    vec_token = _single(params, "vec")
    vector = decode_vector(vec_token) if vec_token is not None else None
    given = [name for name, value in (("q", text), ("similar", similar), ("vec", vector)) if value is not None]
    if len(given) > 1:
        raise QueryError(f"give one of q, similar and vec, not {' and '.join(given)}")
    mode = (_single(params, "mode") or "semantic").lower()
    if mode not in SEARCH_MODES:
        raise QueryError(f"mode must be one of {', '.join(SEARCH_MODES)}, got {mode!r}")
    min_similarity = None
    raw_similarity = _single(params, "min_similarity")
    if raw_similarity is not None:
        try:
            min_similarity = float(raw_similarity)
        except ValueError:
            raise QueryError(f"min_similarity must be a number between -1 and 1, got {raw_similarity!r}") from None
        if not -1.0 <= min_similarity <= 1.0:
            raise QueryError(f"min_similarity is a cosine similarity between -1 and 1, got {min_similarity:g}")
    facets_flag = (_single(params, "facets") or "false").lower()
    if facets_flag not in ("1", "true", "yes", "0", "false", "no"):
        raise QueryError(f"facets must be true or false, got {facets_flag!r}")
    return SearchRequest(
        text=text, similar_to=similar, vector=vector, filters=parse_filters(params),
        page=_int(params, "page", 1, 1, MAX_NUM_CANDIDATES),
        size=_int(params, "size", default_size, 1, max_size),
        mode=mode, min_similarity=min_similarity, with_facets=facets_flag in ("1", "true", "yes"),
    )


def check_image_id(image_id: str) -> str:
    """An image id as documents use it (the content's sha256); anything odd is a QueryError."""
    if not image_id or len(image_id) > MAX_ID_CHARS or not image_id.isprintable() or "/" in image_id:
        raise QueryError("an image id is the sha256 of the image, 64 hexadecimal characters")
    return image_id


# --------------------------------------------------------------------------- vectors in links


def encode_vector(vector: Sequence[float]) -> str:
    """A compact URL-safe token for a query vector (float16, base64url), so an image search can be paged
    without uploading the image again. float16 keeps cosine ranking within ~1e-3 of float32."""
    packed = struct.pack(f"<{len(vector)}e", *(float(x) for x in vector))
    return base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def decode_vector(token: str) -> tuple[float, ...]:
    """The vector from `encode_vector`, L2-normalised; a malformed token is a QueryError."""
    if len(token) > MAX_VECTOR_DIMS * 3:
        raise QueryError("vec is too long to be a query vector")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        raise QueryError("vec is not a valid query vector token") from None
    if not raw or len(raw) % 2:
        raise QueryError("vec is not a valid query vector token")
    values = struct.unpack(f"<{len(raw) // 2}e", raw)
    norm = math.sqrt(sum(v * v for v in values))
    if not math.isfinite(norm) or norm == 0.0:
        raise QueryError("vec must be a non-zero vector of finite numbers")
    return tuple(v / norm for v in values)
