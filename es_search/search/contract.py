"""The request contract of searching: pydantic models that parse every search request, and document it.

The same model reads a query string (the gallery's pages, GET /api/search, the command line's options made
into parameters) and, with typed values, a JSON body (POST /api/search, POST /api/search/image); the OpenAPI
document (webapp/openapi.py) is generated from exactly these models, so what is described is what is parsed.
Models are built once per settings and field registry: the limits come from the settings, one parameter per
filter of the registry.

Text (query strings, forms) is read as HTTP clients send it: a number or a boolean word exactly, no padding.
Field values go through the one converter (es_search/values.py), ids through the one id rule (es_search/ids.py).
A request that does not fit is a QueryError naming the parameter (400). The gallery's forms send their empty
fields, which count as absent there; an API client's empty value is a value.
Pure: nothing here talks to Elasticsearch.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, create_model

from es_search.boosts import MAX_SIGNALS, SIGNAL_FORMS, BadSignal, parse_signal
from es_search.fields import FieldRegistry, FieldSpec
from es_search.ids import ID_PATTERN, MAX_ID_CHARS
from es_search.search.filters import MAX_FILTER_VALUES, MAX_VALUE_CHARS, RANGE_SEPARATOR, checked_filter_value
from es_search.search.parts import MAX_PARTS, MAX_WEIGHT, PART_LIMITS
from es_search.values import BOOLEAN_WORDS, DATE_PHRASE, INTEGER_TEXT, NUMBER_TEXT, TRUE_WORDS, TYPE_RANGES

SEARCH_MODES = ("semantic", "hybrid", "text")
SORTS = ("relevance", "boosted", "date", "size")  # how the good matches are ordered (es_search.search.ranking)


def sorts_for(registry: FieldRegistry) -> tuple[str, ...]:
    """Every sort a search takes: the built-in ones, then each sortable registry field, up and down."""
    fields = [name for name in registry.sortable() if name not in SORTS]
    return SORTS + tuple(fields) + tuple(f"-{name}" for name in fields)
MAX_TEXT_CHARS = 1000
MAX_PAGE = 10_000
VECTOR_FORMAT = "vector-token"  # a query vector as `query.vector` of an image search gives it
BOX_FORMAT = "relative-box"  # x,y,w,h relative to an image (es_search/search/regions.py)
SIGNAL_FORMAT = "ranking-signal"  # es_search/boosts.py's text form: in_stock:true^1.2, price:log^0.5, taken_at:30d
IMAGE_FORMAT = "base64-image"  # an image file's bytes in base64 (a data: URL works too)
RANGE_FORMATS = {"integer": "integer-range", "long": "integer-range", "float": "number-range",
                 "double": "number-range", "date": "date-range"}
WEIGHTED = (f" Repeatable; a trailing ^number (above 0, at most {MAX_WEIGHT:g}) weighs it, e.g. beach^2 "
            "(other text after ^ is part of the value).")


class QueryParams(BaseModel):
    """Query parameters: unknown ones are left alone, as HTTP servers do."""

    model_config = ConfigDict(extra="ignore", strict=True, populate_by_name=True)


class JsonBody(BaseModel):
    """A JSON body: its keys are the contract; another key is a mistake worth telling."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


# --------------------------------------------------------------------------- values read from text


def whole_number(text: bool):
    """A whole number as JSON (2.0 too) or, with `text`, a query string gives it."""
    def read(raw):
        if text and isinstance(raw, str):
            if not INTEGER_TEXT.fullmatch(raw):
                raise ValueError(f"must be a whole number, got {raw!r}")
            return int(raw)
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)  # JSON's 2.0 is a whole number too
        return raw
    return BeforeValidator(read)


def number(text: bool):
    """A number as JSON (1 too) or, with `text`, a query string gives it."""
    def read(raw):
        if text and isinstance(raw, str):
            if not NUMBER_TEXT.fullmatch(raw):
                raise ValueError(f"must be a number, got {raw!r}")
            return float(raw)
        if isinstance(raw, int) and not isinstance(raw, bool):
            return float(raw)  # JSON's 1 is a number too
        return raw
    return BeforeValidator(read)


def _flag(text: bool):
    def read(raw):
        if text and isinstance(raw, str):
            if raw.lower() not in BOOLEAN_WORDS:
                raise ValueError(f"must be true or false, got {raw!r}")
            return raw.lower() in TRUE_WORDS
        return raw
    return BeforeValidator(read)


def _int_field(text: bool, default, ge: int, le: int, description: str):
    return Annotated[int, whole_number(text)], Field(default, ge=ge, le=le, description=description)


def _bool_field(text: bool, default: bool, description: str):
    return Annotated[bool, _flag(text)], Field(default, description=description)


# --------------------------------------------------------------------------- filters from the registry


def value_schema(spec: FieldSpec) -> dict:
    """The JSON schema of one value of a field, as a filter takes it."""
    if spec.type in ("integer", "long"):
        low, high = TYPE_RANGES[spec.type]
        return {"type": "integer", "minimum": int(max(low, spec.min if spec.min is not None else low)),
                "maximum": int(min(high, spec.max if spec.max is not None else high))}
    if spec.type in ("float", "double"):
        low, high = TYPE_RANGES[spec.type]
        return {"type": "number", "minimum": max(low, spec.min if spec.min is not None else low),
                "maximum": min(high, spec.max if spec.max is not None else high)}
    if spec.type == "boolean":
        return {"type": "boolean"}
    if spec.type == "date":
        return {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}
    return {"type": "string", "maxLength": MAX_VALUE_CHARS}


def _value(spec: FieldSpec, param: str, text: bool):
    def read(raw):
        if raw is None and not text:
            raise ValueError("must be a value, not null (leave the parameter out instead)")
        if raw is None or (isinstance(raw, str) and not raw.strip() and spec.type == "keyword"):
            return None  # an empty (or blank) word chooses nothing; an empty number or date is no number or date
        if not text and spec.type in ("integer", "long", "float", "double", "boolean") and isinstance(raw, str):
            raise ValueError(f"must be {'true or false' if spec.type == 'boolean' else 'a number'}, got {raw!r}")
        return checked_filter_value(spec, raw, strict=not text)
    return read


def _terms(spec: FieldSpec, text: bool):
    one = _value(spec, spec.param, text)

    def read(raw):
        if not text and not isinstance(raw, list):
            raise ValueError("must be a list")
        values = raw if isinstance(raw, list) else [raw]
        if len(values) > MAX_FILTER_VALUES:
            raise ValueError(f"takes at most {MAX_FILTER_VALUES} values, got {len(values)}")
        converted = [one(value) for value in values]
        return tuple(dict.fromkeys(value for value in converted if value is not None)) or None
    return read


def _range(spec: FieldSpec):
    one = _value(spec, spec.param, True)

    def read(raw):
        if not isinstance(raw, str) or RANGE_SEPARATOR not in raw:
            raise ValueError(f"is a range: give from..to, from.. or ..to, got {raw!r}")
        low, high = raw.split(RANGE_SEPARATOR, 1)
        return (one(low) if low else None, one(high) if high else None)
    return read


def _filter_fields(registry: FieldRegistry, text: bool) -> dict:
    fields: dict = {}
    for spec in registry.filters:
        what = spec.label_in("en").lower()
        if spec.filter == "terms":
            schema = {"type": "array", "items": value_schema(spec), "maxItems": MAX_FILTER_VALUES}
            fields[spec.param] = (Annotated[Any, BeforeValidator(_terms(spec, text)), WithJsonSchema(schema)], Field(
                None, description=f"Only images whose {what} is one of these (repeat the parameter; at most "
                                  f"{MAX_FILTER_VALUES})."))
            continue
        fallback = f" Images without it are judged by {spec.fallback}." if spec.fallback else ""
        shape = DATE_PHRASE if spec.type == "date" else "a number"
        range_schema = {"type": "string", "format": RANGE_FORMATS[spec.type]}
        fields[spec.param] = (Annotated[Any, BeforeValidator(_range(spec)), WithJsonSchema(range_schema)], Field(
            None, description=f"A range of {what}: from..to, from.. or ..to (inclusive), each {shape}.{fallback}"))
        for name, side in ((spec.from_param, "at least"), (spec.to_param, "at most")):
            fields[name] = (Annotated[Any, BeforeValidator(_value(spec, name, text)),
                                      WithJsonSchema(value_schema(spec))],
                            Field(None, description=f"{what.capitalize()} {side} this.{fallback}"))
    return fields


def signals_of(parsed: BaseModel, registry: FieldRegistry) -> tuple:
    """The ranking signals a validated model gives (`boost`); a bad one is a QueryError naming it."""
    from es_search.errors import QueryError

    signals = []
    for text in getattr(parsed, "boost", None) or ():
        try:
            signals.append(parse_signal(text, lambda name: getattr(registry.get(name), "type", None)))
        except BadSignal as exc:
            raise QueryError(f"boost: {exc}") from None
    return tuple(signals)


def filters_of(parsed: BaseModel, registry: FieldRegistry):
    """The SearchFilters a validated model holds; a range given both ways is narrowed by both."""
    from es_search.search.filters import SearchFilters, ordered

    terms: dict[str, tuple] = {}
    ranges: dict[str, tuple] = {}
    for spec in registry.filters:
        if spec.filter == "terms":
            values = getattr(parsed, spec.param, None)
            if values:
                terms[spec.param] = values
            continue
        low, high = getattr(parsed, spec.param, None) or (None, None)
        low = _tighter(low, getattr(parsed, spec.from_param, None), max, ordered)
        high = _tighter(high, getattr(parsed, spec.to_param, None), min, ordered)
        if (low, high) != (None, None):
            ranges[spec.param] = (low, high)
    return SearchFilters(terms=terms, ranges=ranges)


def _tighter(current, other, pick, key):
    if current is None or other is None:
        return other if current is None else current
    return pick(current, other, key=key)


# --------------------------------------------------------------------------- the models


def _id_list(param: str, what: str) -> tuple:
    item = Annotated[str, Field(pattern=ID_PATTERN, max_length=MAX_ID_CHARS)]
    return (list[item], Field(None, alias=param, max_length=PART_LIMITS[param], description=what + WEIGHTED))


def _text_list(param: str, what: str) -> tuple:
    item = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
    return (list[item], Field(None, alias=param, max_length=PART_LIMITS[param], description=what + WEIGHTED))


def _vector_list(param: str, what: str) -> tuple:
    item = Annotated[str, WithJsonSchema({"type": "string", "format": VECTOR_FORMAT})]
    return (list[item], Field(None, alias=param, max_length=PART_LIMITS[param], description=what))


def _paging_fields(settings, registry: FieldRegistry, text: bool) -> dict:
    return {
        "page": _int_field(text, 1, 1, MAX_PAGE, f"Page number. Past the {settings.max_result_window} best "
                                                 "results ranked a page is empty, with a notice."),
        "size": _int_field(text, settings.default_page_size, 1, settings.max_page_size, "Results per page."),
        "min_similarity": (Annotated[float, number(text)], Field(None, ge=-1, le=1, description=(
            "Leave out images whose cosine similarity to the query is below this (in hybrid mode it applies to "
            "the vector ranking only)."))),
        "facets": _bool_field(text, False, "Also return facet counts and the number of images passing the filters."),
        "sort": (Literal[sorts_for(registry)], Field(None, description=(  # type: ignore[valid-type]
            "How the good matches (above the cutoff) are ordered: relevance, boosted (relevance times the "
            "ranking signals: the registry's and `boost`), date (newest first), size (most pixels first), or a "
            "field of the registry, ascending (`difficulty`) or descending (`-price`), ties in boosted order; "
            "documents without the value go last. More results follow in relevance order. Default: boosted "
            "when there are signals, else relevance."))),
        "boost": (list[Annotated[str, Field(max_length=200), WithJsonSchema(
            {"type": "string", "format": SIGNAL_FORMAT, "maxLength": 200})]], Field(
            None, max_length=MAX_SIGNALS, description=(
                f"A ranking signal for this search (repeatable, at most {MAX_SIGNALS}): {SIGNAL_FORMS}. One for "
                "the same field (and value) as the registry's replaces it."))),
        "explain": _bool_field(text, False, "Explain every hit: its cosine to each part, its vector rank, and in "
                                            "hybrid mode its keyword rank and the matched fields."),
        "box": (Annotated[str, WithJsonSchema({"type": "string", "format": BOX_FORMAT})], Field(None, max_length=100,
            description=("Search by a region of the query image (the upload, or the image of `similar`): x,y,w,h "
                         "relative to it (0..1), as the image page's drag gives it. Ignored without a query image."))),
        "collapse": (Annotated[bool, _flag(text)], Field(None, description=(
            "One image per near-duplicate group: only each group's representative (the gallery's default)."))),
        "group": (Literal["video"], Field(None, description=(
            "`video`: the results folded by video, each video once (where its best frame ranks) with the time "
            "ranges where matching frames occur, best first; a page is a page of videos (and photos)."))),
    }


def _query_fields(text: bool) -> dict:
    return {
        "q": _text_list("q", f"What to look for, in any language (at most {MAX_TEXT_CHARS} characters). The first "
                             "is the main query; more are further parts."),
        "similar": (str, Field(None, pattern=ID_PATTERN, max_length=MAX_ID_CHARS, description=(
            "Images like this indexed image (its id); it is left out of the results. Beside q it is one more "
            "part, as like= is."))),
        "vec": _vector_list("vec", "A query vector token from `query.vector` of an image search."),
        "mode": (Literal[SEARCH_MODES], Field("semantic", description=(  # type: ignore[valid-type]
            "semantic (vectors only), hybrid (vectors fused with BM25 keyword search over the positive texts, "
            "the text inside images included) or text (images whose words match first, in keyword order, "
            "then the rest by their vectors)."))),
        "words": (str, Field(None, max_length=MAX_TEXT_CHARS, description=(
            "Words matched in the keyword fields only (titles, tags, the text inside images), with no vector of "
            "their own, beside a main query; in semantic mode they make it hybrid. Alone, they search as q does "
            "in text mode. An image search fills it with the text it read in the query image, so its further "
            "pages keep it."))),
        "literal": _bool_field(text, False, (
            "Search the words of q as typed: no dates and no values of understood fields (a brand, a person) "
            "are taken from it as filters. By default they are, and the answer's `understood` lists "
            "each.")),
        "as_text": (list[Annotated[str, Field(max_length=MAX_TEXT_CHARS)]], Field(None, max_length=8, description=(
            "A piece of q to read as words though it could be understood (a removed chip), as the answer's "
            "`understood[].text` gives it; repeatable."))),
        "not_": _text_list("not", "Away from this text (a negative part)."),
        "like": _id_list("like", "Towards this indexed image (its id)."),
        "unlike": _id_list("unlike", "Away from this indexed image (its id); it is left out of the results."),
        "not_vec": _vector_list("not_vec", "Away from this query vector token."),
    }


@lru_cache(maxsize=64)
def paging_model(settings, registry: FieldRegistry, text: bool = True) -> type[BaseModel]:
    """Paging, similarity floor, facets, sort and every registry filter: what each search route takes."""
    return create_model("PagingAndFilters" if text else "PagingAndFiltersBody", __base__=QueryParams if text else JsonBody,
                        **_paging_fields(settings, registry, text), **_filter_fields(registry, text))


@lru_cache(maxsize=64)
def search_model(settings, registry: FieldRegistry, text: bool = True) -> type[BaseModel]:
    """GET /api/search: q, similar, vec and the further parts (none of them: browse the newest), mode, paging."""
    return create_model("SearchParams" if text else "SearchBody", __base__=QueryParams if text else JsonBody,
                        **_query_fields(text), **_paging_fields(settings, registry, text), **_filter_fields(registry, text))


@lru_cache(maxsize=64)
def filters_model(registry: FieldRegistry) -> type[BaseModel]:
    """GET /api/facets: the filters alone."""
    return create_model("FilterParams", __base__=QueryParams, **_filter_fields(registry, True))


@lru_cache(maxsize=8)
def duplicates_model() -> type[BaseModel]:
    """GET /api/duplicates: a page of near-duplicate groups."""
    from es_search.duplicates.listing import MAX_DEPTH, MAX_PAGE_SIZE

    return create_model(
        "DuplicatesParams", __base__=QueryParams,
        page=_int_field(True, 1, 1, MAX_DEPTH, f"Page number; past the {MAX_DEPTH} largest groups a page is empty."),
        size=_int_field(True, 20, 1, MAX_PAGE_SIZE, "Groups per page."),
    )


def people_model() -> type[BaseModel]:
    """GET /api/people: a page of people, most images first."""
    return create_model(
        "PeopleParams", __base__=QueryParams,
        page=_int_field(True, 1, 1, 10_000, "Page number; past the 10,000 people with the most images a page is "
                                            "empty."),
        size=_int_field(True, 50, 1, 500, "People per page."),
    )


class _Part(JsonBody):
    weight: Annotated[float, number(False)] = Field(1.0, gt=0, le=MAX_WEIGHT)
    negative: bool = Field(False, description="Pull the query away from this part.")


class TextPart(_Part):
    text: str = Field(max_length=MAX_TEXT_CHARS, description="A text part.")


class ImagePart(_Part):
    image: str = Field(pattern=ID_PATTERN, max_length=MAX_ID_CHARS, description="An indexed image part (its id).")


class UploadPart(_Part):
    image_base64: Annotated[str, WithJsonSchema({"type": "string", "format": IMAGE_FORMAT})] = Field(
        description="An uploaded image part, base64 (a data: URL works too).")


def _one_form(raw):
    """A part names exactly one of its forms; said plainly before the forms are tried one by one."""
    if isinstance(raw, dict) and sum(key in raw for key in ("text", "image", "image_base64")) != 1:
        raise ValueError("takes exactly one of text, image and image_base64 (and optionally weight and negative)")
    return raw


CompoundPart = Annotated[TextPart | ImagePart | UploadPart, BeforeValidator(_one_form)]


@lru_cache(maxsize=64)
def compound_model(settings, registry: FieldRegistry) -> type[BaseModel]:
    """POST /api/search: `parts` beside any GET /api/search parameter (typed as JSON); each part is exactly
    one of a text, an indexed image and an upload."""
    return create_model(
        "CompoundSearchBody", __base__=search_model(settings, registry, text=False),
        parts=(list[CompoundPart], Field(default_factory=list, max_length=MAX_PARTS, description=(
            f"The query's parts; each upload at most {settings.max_upload_bytes} bytes decoded."))),
    )


@lru_cache(maxsize=64)
def image_search_model(settings, registry: FieldRegistry) -> type[BaseModel]:
    """POST /api/search/image as JSON: the image in base64 beside the paging and filter parameters."""
    return create_model(
        "ImageSearchBody", __base__=paging_model(settings, registry, text=False),
        image_base64=(Annotated[str, WithJsonSchema({"type": "string", "format": IMAGE_FORMAT})], Field(
            description=f"The image, base64 (a data: URL works too), at most {settings.max_upload_bytes} bytes "
                        "decoded.")),
    )
