"""The API's request and response models. The OpenAPI document is generated from them (webapp/openapi.py),
and the tests validate real answers against them, so the description cannot drift from what is served.

Query parameters are one model per route kind, built from the settings (limits) and the field registry
(filters), so a field declared in a schema file appears here with no other change.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from es_search.config import Settings
from es_search.fields import FieldRegistry, FieldSpec
from es_search.search.filters import MAX_FILTER_VALUES
from es_search.search.parts import MAX_PARTS, MAX_WEIGHT
from es_search.search.request import MAX_TEXT_CHARS, SEARCH_MODES, SORTS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(_Strict):
    status: int
    code: str = Field(description="A short machine-readable reason, e.g. bad_request, too_large, not_found.")
    message: str = Field(description="What went wrong and what to do, for a person.")


class ErrorBody(_Strict):
    error: ErrorDetail


class Links(BaseModel):
    model_config = ConfigDict(extra="allow")
    thumbnail: str | None = None
    page: str
    similar: str
    api_similar: str
    document: str
    original: str | None = None


class QueryPartBody(_Strict):
    kind: Literal["text", "image", "vector"]
    value: str = Field(description="The text, the image id, or a vector token (an uploaded image's vector).")
    weight: float = Field(description="Signed: negative parts pull the query away from themselves.")


class ExplainedPart(QueryPartBody):
    cosine: float | None = Field(description="The hit's cosine similarity to this part alone.")


class Explain(_Strict):
    parts: list[ExplainedPart]
    vector_rank: int | None = Field(description="1-based place in the vector (kNN) ranking.")
    keyword_rank: int | None = Field(None, description="Hybrid mode: 1-based place in the keyword ranking, "
                                                       "null when the keywords did not find it.")
    matched: dict[str, list[str]] | None = Field(None, description="Hybrid mode: fragments of the fields the "
                                                                   "keywords matched, by field; HTML-escaped, "
                                                                   "matches in <em>.")


class Cutoff(_Strict):
    good_matches: int = Field(description="How many of the best results are good matches; they come first.")
    similarity: float | None = Field(description="The lowest cosine among the good matches.")
    no_good_match: bool
    spread: float | None = Field(description="Best minus median cosine of the results the rule looked at.")


class Hit(_Strict):
    id: str
    rank: int = Field(description="1-based position in the whole ranking.")
    score: float | None = Field(description="What ranks: the cosine similarity in semantic mode, the reciprocal "
                                            "rank fusion score in hybrid mode, null when browsing.")
    similarity: float | None = Field(description="Cosine similarity to the query vector, when known.")
    good_match: bool | None = Field(description="Above this query's cutoff (see `cutoff`); null when browsing.")
    image: dict = Field(description="The indexed document without its vector.")
    links: Links
    explain: Explain | None = Field(None, description="Why the hit is here, with explain=true.")


class QueryEcho(_Strict):
    kind: Literal["text", "image", "similar", "vector", "compound", "browse"]
    mode: Literal["semantic", "hybrid", "browse"]
    text: str | None
    similar: str | None
    vector: str | None = Field(description="For image searches: a token that pages the same search via "
                                           "GET /api/search?vec= without a new upload.")
    parts: list[QueryPartBody] = Field(description="Every part of the query, the main one first.")
    sort: Literal[SORTS]  # type: ignore[valid-type]
    min_similarity: float | None
    filters: dict = Field(description="The active filters by parameter: a list of values, or {from, to}.")


class FacetEntry(_Strict):
    value: str
    count: int
    selected: bool


class SearchResultBody(_Strict):
    query: QueryEcho
    page: int
    size: int
    has_next: bool
    max_page: int
    took_ms: float
    timings_ms: dict[str, float]
    hits: list[Hit]
    total: int | None = Field(None, description="Only when browsing: a vector search ranks every image.")
    cutoff: Cutoff | None = Field(None, description="Where the good matches end (not when browsing).")
    no_good_match: bool | None = Field(None, description="True when nothing stands out as a good match.")
    facets: dict[str, list[FacetEntry]] | None = None
    matching: int | None = Field(None, description="Images passing every filter, with facets=true.")
    next: str | None = Field(None, description="The next page's address, when there is one.")


class ImageDocumentBody(_Strict):
    id: str
    image: dict
    links: Links


class FacetsBody(_Strict):
    facets: dict[str, list[FacetEntry]]
    matching: int


class HealthBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    ok: bool
    index_alias: str


RESPONSE_MODELS = (ErrorBody, SearchResultBody, ImageDocumentBody, FacetsBody, HealthBody)


# --------------------------------------------------------------------------- query parameters


def _filter_fields(registry: FieldRegistry) -> dict:
    fields: dict = {}
    for spec in registry.filters:
        if spec.filter == "terms":
            fields[spec.param] = (list[python_type(spec)] | None, Field(
                None, max_length=MAX_FILTER_VALUES,
                description=f"Only images whose {spec.label_in('en').lower()} is one of these (repeat the parameter)."))
        else:
            value_type = python_type(spec)
            what = spec.label_in("en").lower()
            fallback = f" Images without it are judged by {spec.fallback}." if spec.fallback else ""
            fields[spec.param] = (str | None, Field(
                None, pattern=r"^[^.]*\.\.[^.]*$",
                description=f"A range of {what}: from..to, from.. or ..to (inclusive).{fallback}"))
            fields[spec.from_param] = (value_type | None, Field(None, description=f"{what.capitalize()} at least this."))
            fields[spec.to_param] = (value_type | None, Field(None, description=f"{what.capitalize()} at most this."))
    return fields


def python_type(spec: FieldSpec) -> type:
    return {"date": date, "integer": int, "long": int, "float": float, "double": float,
            "boolean": bool}.get(spec.type, str)


def paging_params_model(settings: Settings, registry: FieldRegistry) -> type[BaseModel]:
    """Paging, similarity floor, facets and every registry filter: what each search route takes."""
    return create_model(
        "PagingAndFilters",
        page=(int, Field(1, ge=1, description=f"Page number; page × size may not pass {settings.max_result_window}.")),
        size=(int, Field(settings.default_page_size, ge=1, le=settings.max_page_size, description="Results per page.")),
        min_similarity=(float | None, Field(None, ge=-1, le=1, description=(
            "Leave out images whose cosine similarity to the query is below this (in hybrid mode it applies to "
            "the vector ranking only)."))),
        facets=(bool, Field(False, description="Also return facet counts and the number of images passing the filters.")),
        sort=(Literal[SORTS], Field("relevance", description=(  # type: ignore[valid-type]
            "How the good matches (above the cutoff) are ordered: relevance, date (newest first) or size (most "
            "pixels first). More results follow in relevance order."))),
        explain=(bool, Field(False, description="Explain every hit: its cosine to each part, its vector rank, and in "
                                                "hybrid mode its keyword rank and the matched fields.")),
        collapse=(bool, Field(False, description=(
            "One image per near-duplicate group: only each group's representative (the gallery's default)."))),
        **_filter_fields(registry),
    )


WEIGHTED = (f" Repeatable; a trailing ^number (above 0, at most {MAX_WEIGHT:g}) weighs it, e.g. beach^2. At most "
            f"{MAX_PARTS} parts in all.")


def _part_fields() -> dict:
    return {
        "not": (list[str] | None, Field(None, description="Away from this text (a negative part)." + WEIGHTED)),
        "like": (list[str] | None, Field(None, description="Towards this indexed image (its id)." + WEIGHTED)),
        "unlike": (list[str] | None, Field(None, description="Away from this indexed image (its id); it is left "
                                                              "out of the results." + WEIGHTED)),
        "not_vec": (list[str] | None, Field(None, description="Away from this query vector token." + WEIGHTED)),
    }


def search_params_model(settings: Settings, registry: FieldRegistry) -> type[BaseModel]:
    """GET /api/search: one of q, similar and vec (none: browse the newest), mode, and the paging model."""
    return create_model(
        "SearchParams", __base__=paging_params_model(settings, registry),
        q=(list[str] | None, Field(None, description=(
            f"What to look for, in any language (at most {MAX_TEXT_CHARS} characters). The first is the main "
            "query; more are further parts." + WEIGHTED))),
        similar=(str | None, Field(None, description="Images like this indexed image (its id); it is left out. "
                                                     "Not with q (use like= beside a text).")),
        vec=(list[str] | None, Field(None, description=(
            "A query vector token from `query.vector` of an image search." + WEIGHTED))),
        mode=(Literal[SEARCH_MODES], Field("semantic", description=(  # type: ignore[valid-type]
            "semantic (vectors only) or hybrid (vectors fused with BM25 keyword search over the positive "
            "texts)."))),
        **_part_fields(),
    )


class CompoundPart(_Strict):
    text: str | None = Field(None, max_length=MAX_TEXT_CHARS, description="A text part.")
    image: str | None = Field(None, description="An indexed image part (its id).")
    image_base64: str | None = Field(None, description="An uploaded image part, base64 (a data: URL works too).")
    weight: float = Field(1.0, gt=0, le=MAX_WEIGHT)
    negative: bool = Field(False, description="Pull the query away from this part.")


def compound_body_model(settings: Settings, registry: FieldRegistry) -> type[BaseModel]:
    """POST /api/search: `parts` beside any GET /api/search parameter; exactly one of text, image and
    image_base64 per part. The uploads together share the upload limit."""
    return create_model(
        "CompoundSearchBody", __base__=search_params_model(settings, registry),
        parts=(list[CompoundPart], Field(default_factory=list, max_length=MAX_PARTS, description=(
            f"The query's parts; uploads together at most {settings.max_upload_bytes} bytes decoded."))),
    )


def filters_params_model(registry: FieldRegistry) -> type[BaseModel]:
    """GET /api/facets: the filters alone."""
    return create_model("FilterParams", **_filter_fields(registry))


def upload_body_model(settings: Settings, registry: FieldRegistry) -> type[BaseModel]:
    """POST /api/search/image as JSON: the image in base64 beside the paging and filter parameters."""
    return create_model(
        "ImageSearchBody", __base__=paging_params_model(settings, registry),
        image_base64=(str, Field(description=f"The image, base64 (a data: URL works too), at most "
                                             f"{settings.max_upload_bytes} bytes decoded.")),
    )


def duplicates_params_model(settings: Settings, registry: FieldRegistry) -> type[BaseModel]:
    """GET /api/duplicates: a page of near-duplicate groups."""
    from es_search.duplicates.listing import MAX_DEPTH, MAX_PAGE_SIZE

    return create_model(
        "DuplicatesParams",
        page=(int, Field(1, ge=1, description=f"Page number; page × size may not pass {MAX_DEPTH}.")),
        size=(int, Field(20, ge=1, le=MAX_PAGE_SIZE, description="Groups per page.")),
    )


class DuplicateMember(BaseModel):
    id: str
    representative: bool
    similarity: float | None = Field(description="Cosine similarity of its vector to the representative's.")
    paths: list[str] = Field(default_factory=list)
    width: int | None = None
    height: int | None = None
    byte_size: int | None = None
    taken_at: str | None = None
    file_modified_at: str | None = None
    thumbnail: str | None = None


class DuplicateGroup(_Strict):
    id: str = Field(description="The group's id: its representative's id.")
    size: int
    members: list[DuplicateMember]


class DuplicatesBody(_Strict):
    page: int
    size: int
    total: int = Field(description="Groups in all.")
    has_next: bool
    groups: list[DuplicateGroup]
