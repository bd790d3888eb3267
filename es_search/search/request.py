"""What a search asks for: the `SearchRequest` that pages, the JSON API and the command line all parse their
input into, with one rule for which kind of query it is and one place for the limits.

Pure: nothing here talks to Elasticsearch or loads a model.
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from es_search.errors import QueryError
from es_search.ids import BadId, check_doc_id
from es_search.fields import FieldRegistry
from es_search.search.filters import SearchFilters, parse_filters, single_value
from es_search.search.parts import QueryPart, parse_parts, split_weight, with_weight

# Limits on what one request may ask, in one place.
SEARCH_MODES = ("semantic", "hybrid")
SORTS = ("relevance", "date", "size")  # how the good matches are ordered (es_search.search.ranking)
MAX_TEXT_CHARS = 1000
MAX_VECTOR_DIMS = 4096
MAX_PAGE = 10_000


@dataclass(frozen=True)
class SearchRequest:
    """One search as pages, API and CLI ask for it. The main query is at most one of text, similar_to and
    vector (weighing `weight`); `parts` are the further parts of a compound query (es_search.search.parts).
    Nothing at all means browsing the newest images (an uploaded image is passed beside the request)."""

    text: str | None = None
    similar_to: str | None = None
    vector: tuple[float, ...] | None = None
    weight: float = 1.0
    parts: tuple[QueryPart, ...] = ()
    filters: SearchFilters = field(default_factory=SearchFilters)
    page: int = 1
    size: int = 24
    mode: str = "semantic"
    min_similarity: float | None = None
    with_facets: bool = False
    sort: str = "relevance"
    explain: bool = False
    one_per_group: bool = False  # near-duplicates: show only each group's representative (search/collapse.py)

    def to_params(self, **changes) -> list[tuple[str, str]]:
        """Query-string pairs for a link to this search (e.g. `page=` another page)."""
        main_part = self.main_part()
        main = [] if main_part is None else [
            ("similar" if main_part.kind == "image" else main_part.param, with_weight(main_part.value, main_part.weight))]
        values = {"mode": self.mode if self.mode != "semantic" else None,
                  "min_similarity": None if self.min_similarity is None else f"{self.min_similarity:g}",
                  "sort": self.sort if self.sort != "relevance" else None,
                  "explain": "true" if self.explain else None,
                  "collapse": "true" if self.one_per_group else None,
                  "size": str(self.size), "page": str(self.page)}
        values.update({k: (None if v is None else str(v)) for k, v in changes.items()})
        pairs = [(k, v) for k, v in values.items() if v not in (None, "") and not (k == "page" and v == "1")]
        return main + [part.to_param() for part in self.parts] + pairs + self.filters.to_params()

    def main_part(self) -> QueryPart | None:
        """The main query (q, similar or vec) as a part; a vector's value is its token."""
        if self.text:
            return QueryPart("text", self.text, self.weight)
        if self.similar_to:
            return QueryPart("image", self.similar_to, self.weight)
        if self.vector is not None:
            return QueryPart("vector", encode_vector(self.vector), self.weight)
        return None

    def query_parts(self) -> list[QueryPart]:
        """Every part of the query, the main one first (an uploaded image is not among them)."""
        main = self.main_part()
        return ([main] if main is not None else []) + list(self.parts)

    def with_part(self, part: QueryPart) -> SearchRequest:
        """This search with one more part (relevance feedback), back on page 1; a part already there with
        the other sign is replaced rather than cancelled."""
        kept = tuple(p for p in self.parts if (p.kind, p.value) != (part.kind, part.value))
        return replace(self, parts=kept + (part,), page=1)

    def without_part(self, part: QueryPart) -> SearchRequest:
        """This search without one of its further parts, back on page 1."""
        return replace(self, parts=tuple(p for p in self.parts if p != part), page=1)

    def kind(self, with_image: bool = False) -> str:
        """The one rule for what is searched: an uploaded image, text, an indexed image, a given vector, or
        (none of them) the newest images."""
        if with_image:
            return "image"
        if self.text:
            return "text"
        if self.similar_to:
            return "similar"
        if self.vector is not None:
            return "vector"
        if self.parts:
            return "compound"
        return "browse"


def whole_number(raw: str | None, name: str, default: int | None) -> int | None:
    """The parameter `name`'s value as a whole number (`default` when absent), or a QueryError naming it."""
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise QueryError(f"{name} must be a whole number, got {raw!r}") from None


def _int(params, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = single_value(params, name)
    if raw is None:
        return default
    value = whole_number(raw, name, default)
    if not low <= value <= high:
        raise QueryError(f"{name} must be between {low} and {high}, got {value}")
    return value


def parse_search_request(params: Mapping[str, Sequence[str] | str], *, default_size: int, max_size: int,
                         allow_similar: bool = True, registry: FieldRegistry | None = None,
                         collapse_default: bool = False) -> SearchRequest:
    """A SearchRequest from query parameters (q, similar, vec, not, like, unlike, not_vec, page, size, mode,
    min_similarity, sort, explain, facets, collapse and the filters). Raises QueryError naming the parameter at fault."""
    parts = parse_parts(params, check_text=_check_text, check_id=_check_id, check_vector=_check_vector)
    similar_raw = single_value(params, "similar") if allow_similar else None
    similar, similar_weight = (None, 1.0)
    if similar_raw is not None:
        similar, similar_weight = split_weight(similar_raw.strip(), "similar")
        check_image_id(similar)
    first_text = next((p for p in parts if p.kind == "text" and not p.negative), None)
    first_vector = next((p for p in parts if p.kind == "vector" and not p.negative), None)
    if first_text is not None and similar is not None:
        raise QueryError("give one of q and similar as the main query, not both "
                         "(an indexed image beside a text is like=ID)")
    # The main query: the first text, else the similar image, else the first vector; the rest join it.
    main = first_text or (None if similar is not None else first_vector)
    weight = main.weight if main is not None else similar_weight
    further = tuple(p for p in parts if p is not main)
    if main is None and similar is None and further and all(p.negative for p in further):
        raise QueryError("a query needs a positive part (q, similar, like or vec) beside not= and unlike=")
    mode = (single_value(params, "mode") or "semantic").lower()
    if mode not in SEARCH_MODES:
        raise QueryError(f"mode must be one of {', '.join(SEARCH_MODES)}, got {mode!r}")
    sort = (single_value(params, "sort") or "relevance").lower()
    if sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
    min_similarity = None
    raw_similarity = single_value(params, "min_similarity")
    if raw_similarity is not None:
        try:
            min_similarity = float(raw_similarity)
        except ValueError:
            raise QueryError(f"min_similarity must be a number between -1 and 1, got {raw_similarity!r}") from None
        if not -1.0 <= min_similarity <= 1.0:
            raise QueryError(f"min_similarity is a cosine similarity between -1 and 1, got {min_similarity:g}")
    return SearchRequest(
        one_per_group=_flag(params, "collapse", collapse_default),
        text=main.value if main is first_text and main is not None else None, similar_to=similar,
        vector=decode_vector(main.value) if main is first_vector and main is not None else None,
        weight=weight, parts=further, filters=parse_filters(params, registry),
        page=_int(params, "page", 1, 1, MAX_PAGE),
        size=_int(params, "size", default_size, 1, max_size),
        mode=mode, min_similarity=min_similarity, with_facets=_flag(params, "facets"), sort=sort,
        explain=_flag(params, "explain"),
    )


def _flag(params, name: str, default: bool = False) -> bool:
    raw = single_value(params, name)
    if raw is None or raw == "":
        return default
    if raw.lower() not in ("1", "true", "yes", "0", "false", "no"):
        raise QueryError(f"{name} must be true or false, got {raw!r}")
    return raw.lower() in ("1", "true", "yes")


def _check_text(text: str, param: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise QueryError(f"{param} is too long ({len(text)} characters; at most {MAX_TEXT_CHARS})")


def _check_id(image_id: str, param: str) -> None:
    try:
        check_image_id(image_id)
    except QueryError as exc:
        raise QueryError(f"{param}: {exc}") from None


def _check_vector(token: str, param: str) -> None:
    try:
        decode_vector(token)
    except QueryError as exc:
        raise QueryError(f"{param}: {exc}") from None


def check_image_id(image_id: str) -> str:
    """An image id by the one id rule (es_search/ids.py); anything else is a QueryError."""
    try:
        return check_doc_id(image_id)
    except BadId as exc:
        raise QueryError(str(exc)) from None


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
