"""The write API's request and response models (webapp/writes.py), beside the search API's (webapp/schemas.py).

The request models parse every write (JSON bodies, multipart forms, each bulk line) and are the OpenAPI
document's description of them. A write's `fields` is built from the field registry: the fields a write may
set, each with its type, so a field declared in a schema file appears here with no other change; their values
go through the ingest's `check_fields` (the one converter), whose reason codes answers keep.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from es_search.config import Settings
from es_search.errors import UploadRejected, WriteRejected
from es_search.fields import FieldRegistry, FieldSpec
from es_search.ids import ID_PATTERN, MAX_ID_CHARS
from es_search.search.contract import IMAGE_FORMAT, JsonBody, QueryParams, number, value_schema, whole_number
from es_search.search.parsing import describe
from es_search.values import MAX_KEYWORD_CHARS, MAX_LIST_VALUES, MAX_TEXT_CHARS
from es_search.watchlists.lists import NAME_PATTERN as WATCHLIST_NAME
from ingest.image_write import REFRESH_VALUES
from ingest.records import RecordColumns
from ingest.write_fields import check_fields, check_write_id
from webapp.inputs import decode_base64_image
from webapp.schemas import ImageDocumentBody


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WrittenImageBody(ImageDocumentBody):
    result: Literal["created", "updated", "noop"] = Field(
        description="created: a new document; updated: the id existed (fields written, or a new image); "
                    "noop: nothing changed.")
    encoded: bool | None = Field(None, description="Whether the image went through the model: false when the "
                                                   "same bytes were indexed already (their vector is reused).")


class DeletedBody(_Strict):
    id: str
    result: Literal["deleted"]


class BulkItemError(_Strict):
    type: str = Field(description="The ingest's reason (not_an_image, too_large, refused_address, bad_field...), "
                                  "index_read_only, or Elasticsearch's error type.")
    reason: str


class BulkItemResult(_Strict):
    id: str | None = Field(alias="_id")
    status: int
    result: str | None = None
    encoded: bool | None = None
    error: BulkItemError | None = None


class BulkBody(_Strict):
    took: int = Field(description="Milliseconds the request took.")
    errors: bool = Field(description="Whether any item failed.")
    items: list[dict[Literal["index", "create", "update", "delete"], BulkItemResult]]


# --------------------------------------------------------------------------- requests


def stored_value_schema(spec: FieldSpec) -> dict:
    """What a write may give a field: one value of its type, or a list of them, or null (clears it)."""
    one = dict(value_schema(spec))
    if spec.type == "keyword":
        one["maxLength"] = MAX_KEYWORD_CHARS
    elif spec.type == "text":
        one["maxLength"] = MAX_TEXT_CHARS
    return {"anyOf": [one, {"type": "array", "items": one, "maxItems": MAX_LIST_VALUES}, {"type": "null"}],
            "description": f"{spec.label_in('en')} ({spec.type})"}


@lru_cache(maxsize=32)
def fields_schema(registry: FieldRegistry, min_fields: int = 0) -> dict:
    """The fields a write may set (as in a records file): the schema's fields and title, caption, tags."""
    settable = RecordColumns.from_registry(registry).settable
    schema = {"type": "object", "title": "WritableFields", "additionalProperties": False,
              "properties": {name: stored_value_schema(spec) for name, spec in settable.items()}}
    if min_fields:
        schema["minProperties"] = min_fields
    return schema


def _reasoned(check):
    """A validator whose refusal keeps its reason code (bad_field, bad_id...) through pydantic."""
    def run(raw):
        try:
            return check(raw)
        except UploadRejected as exc:
            raise PydanticCustomError(exc.reason, str(exc), {"status": exc.http_status}) from None
    return BeforeValidator(run)


def _not_null(raw, what: str):
    """A key given as JSON null: the contract has no null for it (leave the key out instead)."""
    if raw is None:
        raise WriteRejected("bad_json", f"{what} must not be null; leave it out instead")
    return raw


def _fields_type(registry: FieldRegistry, strict: bool, min_fields: int = 0):
    def check(raw):
        fields = check_fields(_not_null(raw, "fields"), registry, strict=strict)
        if len(fields) < min_fields:
            raise WriteRejected("bad_json", "fields is empty: nothing to change")
        return fields
    return Annotated[Any, _reasoned(check), WithJsonSchema(fields_schema(registry, min_fields))]


_ID = Annotated[Any, _reasoned(lambda raw: check_write_id(_not_null(raw, "id"))),
                WithJsonSchema({"type": "string", "pattern": ID_PATTERN, "maxLength": MAX_ID_CHARS})]
IMAGE_URL_FORMAT = "image-url"
WRITE_KEYS = ("image_base64", "url", "id", "fields")


@lru_cache(maxsize=32)
def image_write_model(settings: Settings, registry: FieldRegistry) -> type[BaseModel]:
    """POST /api/images as JSON (a bulk index/create source line is the same object): exactly one of
    image_base64 and url, an optional id and fields."""
    def one_image(raw):
        if not isinstance(raw, dict):
            raise PydanticCustomError("bad_json", "the body must be a JSON object: {\"image_base64\" or \"url\", "
                                                  "\"id\", \"fields\": {...}}")
        unknown = sorted(set(raw) - set(WRITE_KEYS))
        if unknown:
            raise PydanticCustomError("bad_json", f"unknown key(s) {', '.join(unknown)}; an image write takes "
                                                  f"{', '.join(WRITE_KEYS)}")
        given = [key for key in ("image_base64", "url") if key in raw]
        if len(given) != 1 or not isinstance(raw[given[0]], str):
            raise PydanticCustomError("missing_image", "give the image as exactly one of image_base64 (base64 "
                                                       "text) or url (an http(s):// URL or s3://bucket/key)")
        return raw

    limit = settings.max_upload_bytes
    image = Annotated[Any, _reasoned(lambda raw: decode_base64_image(raw, limit)),
                      WithJsonSchema({"type": "string", "format": IMAGE_FORMAT})]
    url = Annotated[Any, _reasoned(lambda raw: raw), WithJsonSchema({"type": "string", "format": IMAGE_URL_FORMAT})]
    model = create_model(
        "ImageWriteBody", __config__=ConfigDict(extra="forbid", json_schema_extra={
            "oneOf": [{"required": ["image_base64"]}, {"required": ["url"]}]}),
        __validators__={"one_image": model_validator(mode="before")(lambda cls, raw: one_image(raw))},
        image_base64=(image, Field(None, description=f"The image, base64 (a data: URL works too), at most {limit} "
                                                     "bytes decoded.")),
        url=(url, Field(None, description="Or where to fetch it: an http(s):// URL or s3://bucket/key (private "
                                          "and loopback addresses are refused).")),
        id=(_ID, Field(None, description="The document's id; default: the sha256 of the image bytes.")),
        fields=(_fields_type(registry, strict=True), Field(None)),
    )
    return model


@lru_cache(maxsize=32)
def form_write_model(registry: FieldRegistry) -> type[BaseModel]:
    """POST /api/images as a multipart form: the id, and the fields (text, parsed as a records file's)."""
    return create_model("ImageWriteForm", __config__=ConfigDict(extra="forbid"), id=(_ID, Field(None)),
                        fields=(_fields_type(registry, strict=False), Field(None)))


@lru_cache(maxsize=32)
def patch_model(registry: FieldRegistry) -> type[BaseModel]:
    """PATCH /api/images/<id>: the fields to set (null clears one); at least one."""
    return create_model("ImagePatchBody", __config__=ConfigDict(extra="forbid"),
                        fields=(_fields_type(registry, strict=True, min_fields=1), ...))


@lru_cache(maxsize=32)
def update_line_model(registry: FieldRegistry) -> type[BaseModel]:
    """A bulk update's source line: {"doc": {...}}."""
    return create_model("BulkUpdateSource", __config__=ConfigDict(extra="forbid"),
                        doc=(_fields_type(registry, strict=True, min_fields=1), ...))


@lru_cache(maxsize=1)
def refresh_model() -> type[BaseModel]:
    return create_model("RefreshParams", __base__=QueryParams, refresh=(Literal[(*REFRESH_VALUES, "")], Field(  # type: ignore[valid-type]
        "wait_for", description="wait_for: answer once the write is searchable; true: refresh now; false: do not "
                                "wait; empty (`?refresh` alone): true, as Elasticsearch reads it.")))


def parse_write(model: type[BaseModel], raw) -> BaseModel:
    """`raw` (JSON text or a parsed object) through a write model; the first problem keeps its reason code
    (UploadRejected: bad_json, bad_id, bad_field, missing_image, too_large...)."""
    try:
        if isinstance(raw, (bytes, str)):
            return model.model_validate_json(raw or b"null")
        return model.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        kind = error.get("type", "")
        if kind in ("json_invalid", "json_type"):
            raise WriteRejected("bad_json", f"the body is not valid JSON ({(error.get('ctx') or {}).get('error', '')})"
                                ) from None
        if kind in WRITE_REASONS:
            status = int((error.get("ctx") or {}).get("status", 400))
            raise UploadRejected(kind, str(error.get("msg", "")), status=status) from None
        raise WriteRejected("bad_json", describe(exc)) from None


WRITE_REASONS = ("bad_json", "bad_id", "bad_field", "derived_field", "missing_image", "bad_base64", "empty",
                 "too_large")


# --------------------------------------------------------------------------- people (webapp/writes.py)

class PersonNameBody(JsonBody):
    name: str | None = Field(max_length=100, description="The person's name; null or empty takes it away. Names "
                                                          "are unique (409 when another person has it).")


class PersonMergeBody(JsonBody):
    into: str = Field(min_length=1, max_length=100, description="The person who keeps every face of this one (and "
                                                                "their own name): an id (GET /api/people) or a name.")


class PersonSplitBody(JsonBody):
    images: list[Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]] = Field(
        min_length=1, max_length=1000, description="Images whose faces of this person become a new person.")


# --------------------------------------------------------------------------- watchlists (webapp/watchlist_api.py)

# JSON's 2.0 is a whole number and 1 a number too (the contract's own readers); a query string's are text.
# An absent value is None by default, not by type, as the contract's own fields do: `| None` beside these
# would keep their bounds out of the JSON schema.
WholeNumber = Annotated[int, whole_number(text=False)]
WholeNumberText = Annotated[int, whole_number(text=True)]
Cosine = Annotated[float, number(text=False)]


class WatchlistPromptBody(JsonBody):
    text: str = Field(min_length=1, max_length=300, description="An unwanted category in words (any language).")
    threshold: Cosine = Field(None, gt=0.0, le=1.0, description="The least cosine similarity between an "
                                                                     "image and the text; default "
                                                                     "IMGSEARCH_WATCHLIST_PROMPT_THRESHOLD.")


class WatchlistBody(JsonBody):
    policy: Literal["flag", "hold", "refuse"] = Field(description="What a match does: flag (indexed and marked), "
                                                                  "hold (hidden from every search until reviewed) or "
                                                                  "refuse (not indexed; 422 watchlist_match).")
    similarity: Cosine = Field(None, ge=0.5, le=1.0, description="Least cosine similarity to a reference "
                                                                       "image; default IMGSEARCH_WATCHLIST_SIMILARITY.")
    phash_distance: WholeNumber = Field(None, ge=0, le=32, description="Most perceptual-hash bits from a reference "
                                                                      "image; default "
                                                                      "IMGSEARCH_WATCHLIST_PHASH_DISTANCE.")
    description: str = Field("", max_length=1000)
    prompts: list[WatchlistPromptBody] = Field(default_factory=list, max_length=50,
                                               description="Replace the list's prompts with these.")


class ReviewParams(QueryParams):
    status: Literal["held", "flagged"] | None = Field(None, description="Only held, or only flagged images.")
    watchlist: str | None = Field(None, pattern=f"^{WATCHLIST_NAME}$", description="Only this list's matches.")
    page: WholeNumberText = Field(1, ge=1, le=100, description="Page number; past the IMGSEARCH_MAX_RESULT_WINDOW newest images "
                                                           "to review a page is empty.")
    size: WholeNumberText = Field(24, ge=1, le=100, description="Images per page.")
