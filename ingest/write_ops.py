"""What one write asks for and what came of it (pure): the operations of the write API and their outcomes.

A write is an Elasticsearch-bulk-like operation: `index` / `create` an image (its bytes, or a URL / s3:// key
to fetch) with fields, `update` fields, `delete`. Its outcome is an answer item in Elasticsearch's bulk
shape, plus `encoded` for images (False: the same bytes were indexed already, nothing was run through the
model). A failed image keeps the ingest's reason code (not_an_image, too_large, refused_address...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from es_search.errors import ClusterUnavailable, ImgsearchError, IndexReadOnly, UploadRejected, WriteRejected

ACTIONS = ("index", "create", "update", "delete")
IMAGE_ACTIONS = ("index", "create")

# The answer's status for a reason of the ingest: the caller sent it, so 4xx; the size limits are 413;
# our own thumbnail folder failing is ours (503: try again later), never a 500.
FAILURE_STATUS = {"too_large": 413, "too_many_pixels": 413, "encode_failed": 422, "io_error": 503}
READ_ONLY = "index_read_only"


@dataclass(frozen=True)
class ImageInput:
    """An image to write: its bytes (an upload, base64), or a remote `location` (http(s) URL, s3://) to fetch.
    `name`: the upload's file name, which gives the document its file name and first title."""

    data: bytes | None = None
    location: str | None = None
    name: str | None = None


@dataclass
class WriteOp:
    """One operation; `doc_id` None for an image means its content hash, like the ingest. `fields` are
    already checked and converted by the registry (ingest/write_fields.py `check_fields`)."""

    action: str
    doc_id: str | None = None
    fields: dict = field(default_factory=dict)
    image: ImageInput | None = None


@dataclass
class WriteOutcome:
    """What came of one operation: a status and result, or an error type and reason."""

    action: str
    doc_id: str | None
    status: int
    result: str | None = None
    encoded: bool | None = None
    error_type: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_type is None

    def to_item(self) -> dict:
        """The answer item, as an Elasticsearch bulk answer has it: {action: {_id, status, result | error}}."""
        body: dict = {"_id": self.doc_id, "status": self.status}
        if self.ok:
            body["result"] = self.result
            if self.encoded is not None:
                body["encoded"] = self.encoded
        else:
            body["error"] = {"type": self.error_type, "reason": self.reason}
        return {self.action: body}

    def to_error(self) -> ImgsearchError:
        """The failure as the project's error, for an endpoint writing one image."""
        if self.error_type == READ_ONLY:
            return IndexReadOnly(self.reason or "the index refuses writes")
        if self.status >= 500:
            return ClusterUnavailable(self.reason or "Elasticsearch failed the write")
        if self.status == 404:
            return WriteRejected("not_found", self.reason or "no such image", status=404)
        return UploadRejected(self.error_type or "bad_request", self.reason or "", status=self.status)


def failed(op: WriteOp, reason: str, message: str, status: int | None = None) -> WriteOutcome:
    """The outcome of an operation refused for one of the ingest's reasons."""
    return WriteOutcome(op.action, op.doc_id, status or FAILURE_STATUS.get(reason, 400), error_type=reason,
                        reason=message)


def block_setting(reason: str) -> str:
    """Which index setting a cluster block names, from Elasticsearch's reason text ("blocked by:
    [FORBIDDEN/8/index write (api)]"), so the answer says what an operator must lift."""
    text = reason.lower().replace("-", " ")
    if "allow delete" in text:
        return "index.blocks.read_only_allow_delete"
    if "read only" in text:
        return "index.blocks.read_only"
    if "index write" in text:
        return "index.blocks.write"
    return "a cluster or index block"


def read_only_message(alias: str, reason: str) -> str:
    setting = block_setting(reason)
    return (f"the index behind {alias!r} refuses writes: {setting} is set ({reason}). Nothing was written; "
            f"an operator lifts it with PUT <index>/_settings {{\"{setting}\": null}}"
            if setting.startswith("index.") else f"the index behind {alias!r} refuses writes: {reason}")


def item_outcome(op: WriteOp, body: dict, alias: str, encoded: bool | None) -> WriteOutcome:
    """The outcome of one item of Elasticsearch's bulk answer (the body under its action's name)."""
    status = int(body.get("status", 500))
    error = body.get("error")
    if error is None:
        return WriteOutcome(op.action, body.get("_id", op.doc_id), status, result=body.get("result"),
                            encoded=encoded)
    kind = error.get("type", "error") if isinstance(error, dict) else "error"
    reason = str(error.get("reason", error) if isinstance(error, dict) else error)[:500]
    if kind == "cluster_block_exception":
        return WriteOutcome(op.action, op.doc_id, 503, error_type=READ_ONLY, reason=read_only_message(alias, reason))
    if kind == "document_missing_exception" or (status == 404 and op.action in ("update", "delete")):
        return WriteOutcome(op.action, op.doc_id, 404, error_type="not_found", reason=f"no image with id {op.doc_id}")
    return WriteOutcome(op.action, op.doc_id, status, error_type=kind, reason=reason)
