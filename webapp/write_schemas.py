"""The write API's request and response models (webapp/writes.py), beside the search API's (webapp/schemas.py).

The image-write body's `fields` is built from the field registry: the fields a write may set, each with its
type, so a field declared in a schema file appears here with no other change.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from es_search.config import Settings
from es_search.fields import FieldRegistry
from ingest.image_write import REFRESH_VALUES
from ingest.records import RecordColumns
from webapp.schemas import ImageDocumentBody, python_type


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


RESPONSE_MODELS = (WrittenImageBody, DeletedBody, BulkBody)


def fields_model(registry: FieldRegistry) -> type[BaseModel]:
    """The fields a write may set (as in a records file): the schema's fields and title, caption, tags."""
    settable = RecordColumns.from_registry(registry).settable
    return create_model("WritableFields", __config__=ConfigDict(extra="forbid"), **{
        name: (python_type(spec) | list[python_type(spec)] | None, Field(None, description=spec.type))
        for name, spec in settable.items()})


def image_write_model(settings: Settings, registry: FieldRegistry) -> type[BaseModel]:
    """POST /api/images as JSON (a bulk index/create source line is the same object)."""
    return create_model(
        "ImageWriteBody", __config__=ConfigDict(extra="forbid"),
        image_base64=(str | None, Field(None, description=f"The image, base64 (a data: URL works too), at most "
                                                          f"{settings.max_upload_bytes} bytes decoded.")),
        url=(str | None, Field(None, description="Or where to fetch it: an http(s):// URL or s3://bucket/key "
                                                 "(private and loopback addresses are refused).")),
        id=(str | None, Field(None, description="The document's id; default: the sha256 of the image bytes.")),
        fields=(fields_model(registry) | None, None),
    )


def patch_model(settings: Settings, registry: FieldRegistry) -> type[BaseModel]:
    """PATCH /api/images/<id>: the fields to set (null clears one)."""
    return create_model("ImagePatchBody", __config__=ConfigDict(extra="forbid"), fields=(fields_model(registry), ...))


def refresh_params_model(settings: Settings, registry: FieldRegistry) -> type[BaseModel]:
    return create_model("RefreshParams", refresh=(Literal[REFRESH_VALUES], Field(  # type: ignore[valid-type]
        "wait_for", description="wait_for: answer once the write is searchable; false: do not wait.")))
