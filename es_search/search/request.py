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

import numpy as np

from es_search.boosts import Signal
from es_search.errors import QueryError
from es_search.fields import FieldRegistry, load_registry
from es_search.ids import BadId, check_doc_id
from es_search.search.contract import MAX_TEXT_CHARS, filters_of, search_model, signals_of
from es_search.search.filters import SearchFilters
from es_search.search.parsing import parse_query
from es_search.search.parts import QueryPart, parse_parts, split_weight, with_weight
from es_search.search.regions import Box, parse_box

MAX_VECTOR_DIMS = 4096


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
    words: str | None = None  # matched in the keyword fields only (an image search: the text it read)
    box: Box | None = None  # search by this region of the query image (an upload, or similar_to's image)
    group: str | None = None  # "video": the hits folded by video, with time ranges (search/appearances.py)
    exclude: tuple[str, ...] = ()  # ids left out of the answer besides similar and unlike (what was seen)
    boosts: tuple[Signal, ...] = ()  # this request's ranking signals (es_search/boosts.py), beside the registry's
    default_sort: str = "relevance"  # the sort when none is given (boosted where there are signals): links omit it
    literal: bool = False  # the main text as typed: no dates or field values understood (search/understanding.py)
    as_text: tuple[str, ...] = ()  # pieces of the main text read as words though they could be understood

    def to_params(self, **changes) -> list[tuple[str, str]]:
        """Query-string pairs for a link to this search (e.g. `page=` another page)."""
        main_part = self.main_part()
        main = [] if main_part is None else [
            ("similar" if main_part.kind == "image" else main_part.param, with_weight(main_part.value, main_part.weight))]
        values = {"words": self.words, "box": self.box.to_param() if self.box else None,
                  "mode": self.mode if self.mode != "semantic" else None,
                  "min_similarity": None if self.min_similarity is None else f"{self.min_similarity:g}",
                  "sort": self.sort if self.sort != self.default_sort else None,
                  "literal": "true" if self.literal else None,
                  "explain": "true" if self.explain else None,
                  "collapse": "true" if self.one_per_group else None, "group": self.group,
                  "size": str(self.size), "page": str(self.page)}
        values.update({k: (None if v is None else str(v)) for k, v in changes.items()})
        pairs = [(k, v) for k, v in values.items() if v not in (None, "") and not (k == "page" and v == "1")]
        extra = [("boost", signal.to_text()) for signal in self.boosts] + [("as_text", piece) for piece in self.as_text]
        return main + [part.to_param() for part in self.parts] + pairs + extra + self.filters.to_params()

    def main_part(self) -> QueryPart | None:
        """The main query (q, similar or vec) as a part; a vector's value is its token."""
        if self.text:
            return QueryPart("text", self.text, self.weight)
        if self.similar_to:
            return QueryPart("image", self.similar_to, self.weight)
        if self.vector is not None:
            return QueryPart("vector", encode_vector(self.vector), self.weight,
                             vector=np.asarray(self.vector, dtype=np.float32))
        return None

    def query_parts(self) -> list[QueryPart]:
        """Every part of the query, the main one first (an uploaded image is not among them)."""
        main = self.main_part()
        return ([main] if main is not None else []) + list(self.parts)

    def keywords(self) -> str:
        """What the keyword leg searches: the positive text parts, then `words`."""
        texts = [part.value for part in self.query_parts() if part.kind == "text" and not part.negative]
        return " ".join(texts + ([self.words] if self.words else []))

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


def parse_search_request(params: Mapping[str, Sequence[str] | str], settings, registry: FieldRegistry | None = None,
                         *, collapse_default: bool = False, blank_is_absent: bool = True) -> SearchRequest:
    """A SearchRequest from query parameters (q, similar, vec, not, like, unlike, not_vec, page, size, mode,
    min_similarity, sort, explain, facets, collapse, group and the filters), read by the request contract's model
    (es_search/search/contract.py); empty values count as absent, as a form's do. Raises QueryError naming
    the parameter at fault."""
    registry = registry or load_registry()
    parsed = parse_query(search_model(settings, registry), params, blank_is_absent=blank_is_absent)
    return request_from(parsed, registry,
                        collapse_default=collapse_default)


def request_from(parsed, registry: FieldRegistry, *, collapse_default: bool = False,
                 extra_parts: Sequence[QueryPart] = ()) -> SearchRequest:
    """The SearchRequest a validated search or paging model (GET parameters, or a JSON body) holds, with
    `extra_parts` (a JSON body's `parts`) after the parameters' own."""
    given = {name: getattr(parsed, field, None) or [] for name, field in
             (("q", "q"), ("not", "not_"), ("like", "like"), ("unlike", "unlike"), ("vec", "vec"),
              ("not_vec", "not_vec"))}
    parts = parse_parts(given, check_text=_check_text, check_id=_check_id, check_vector=_check_vector)
    parts += [part for part in extra_parts if part not in parts]
    similar_raw = getattr(parsed, "similar", None)
    similar, similar_weight = split_weight(similar_raw) if similar_raw else (None, 1.0)
    first_text = next((p for p in parts if p.kind == "text" and not p.negative), None)
    first_vector = next((p for p in parts if p.kind == "vector" and not p.negative), None)
    if first_text is not None and similar is not None:
        # An indexed image beside a text is one more part of the query, as like= is.
        like = QueryPart("image", similar, similar_weight)
        parts = parts if like in parts else [*parts, like]
        similar = None
    # The main query: the first text, else the similar image, else the first vector; the rest join it.
    main = first_text or (None if similar is not None else first_vector)
    weight = main.weight if main is not None else similar_weight
    further = tuple(p for p in parts if p is not main)
    collapse = getattr(parsed, "collapse", None)
    boosts = signals_of(parsed, registry)
    default_sort = "boosted" if boosts or registry.signals() else "relevance"
    return SearchRequest(
        one_per_group=collapse_default if collapse is None else collapse,
        text=main.value if main is first_text and main is not None else None, similar_to=similar,
        vector=_vector_of(main) if main is first_vector and main is not None else None,
        weight=weight, parts=further, filters=filters_of(parsed, registry), page=parsed.page, size=parsed.size,
        mode=getattr(parsed, "mode", "semantic"), min_similarity=parsed.min_similarity, with_facets=parsed.facets,
        sort=parsed.sort or default_sort, default_sort=default_sort, boosts=boosts, explain=parsed.explain,
        words=getattr(parsed, "words", None), literal=bool(getattr(parsed, "literal", False)),
        as_text=tuple(getattr(parsed, "as_text", None) or ()),
        box=parse_box(parsed.box) if getattr(parsed, "box", None) else None,
        group=getattr(parsed, "group", None),
    )


def _vector_of(part: QueryPart) -> tuple[float, ...]:
    """A vector part's values: its array when it has one (an upload's), else its token decoded."""
    return tuple(float(x) for x in part.vector) if part.vector is not None else decode_vector(part.value)


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
