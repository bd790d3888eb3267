"""What a write request brings: an image and its fields from multipart or JSON, and a bulk body's operations.

POST /api/images takes a multipart file `image` with form fields (each a registry field, repeatable for a
list; `fields` may hold them as a JSON object), or JSON {"image_base64" | "url", "id", "fields": {...}}.
POST /api/images/_bulk takes NDJSON like Elasticsearch's bulk: an action line ({"index" | "create" |
"update" | "delete": {"_id": ...}}), then, except for delete, a source line: for index/create an object
like POST's JSON, for update {"doc": {...}}.

Two kinds of trouble in a bulk body, answered as Elasticsearch does: a body whose structure is broken (a line
that is not JSON, an unknown action, a missing source line, too many lines) is refused whole with a 400 or
413 before anything is written; a well-formed operation with bad content (bad base64, an unknown field, a
bad id) is one failed item, the others go on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO

from flask import Request

from es_search.errors import QueryError, UploadRejected, WriteRejected
from es_search.fields import FieldRegistry
from ingest.write_fields import check_fields, check_write_id
from ingest.write_ops import ACTIONS, ImageInput, WriteOp, WriteOutcome, failed
from webapp.inputs import BASE64_FIELD, UPLOAD_FIELD, decode_base64_image

URL_FIELD = "url"
IMAGE_KEYS = frozenset({BASE64_FIELD, URL_FIELD, "id", "fields"})
# A bulk line may carry one base64 image (4 characters per 3 bytes) and its fields.
LINE_OVERHEAD = 64 * 1024


def image_op_from_request(request: Request, registry: FieldRegistry, max_bytes: int) -> WriteOp:
    """POST /api/images's operation; WriteRejected / UploadRejected (4xx) for anything unusable."""
    if request.is_json:
        body = request.get_json(silent=True)
        return image_op_from_json("index", body, None, registry, max_bytes)
    upload = request.files.get(UPLOAD_FIELD)
    if upload is None:
        raise UploadRejected("missing_image", f"send the image as a multipart file field named {UPLOAD_FIELD!r}, "
                                              f"or JSON with {BASE64_FIELD} or {URL_FIELD}")
    data = upload.stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UploadRejected("too_large", f"the image is larger than the upload limit of {max_bytes} bytes",
                             status=413)
    raw: dict[str, object] = {}
    for key in request.form:
        if key in ("id", "fields"):
            continue
        values = request.form.getlist(key)
        raw[key] = values if len(values) > 1 else values[0]
    if "fields" in request.form:
        try:
            given = json.loads(request.form["fields"])
        except ValueError:
            raise WriteRejected("bad_json", "the form field `fields` must hold a JSON object") from None
        if not isinstance(given, dict):
            raise WriteRejected("bad_json", "the form field `fields` must hold a JSON object")
        raw.update(given)
    doc_id = check_write_id(request.form["id"]) if request.form.get("id") else None
    name = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1][:255] or None
    return WriteOp("index", doc_id, check_fields(raw, registry, strict=False), ImageInput(data=data, name=name))


def image_op_from_json(action: str, body: object, meta_id: str | None, registry: FieldRegistry,
                       max_bytes: int) -> WriteOp:
    """An index/create operation from POST's JSON (or a bulk source line with the action line's `_id`)."""
    if not isinstance(body, dict):
        raise WriteRejected("bad_json", f"the body must be a JSON object: {{\"{BASE64_FIELD}\" or \"{URL_FIELD}\", "
                                        "\"id\", \"fields\": {...}}")
    unknown = sorted(set(body) - IMAGE_KEYS)
    if unknown:
        raise WriteRejected("bad_json", f"unknown key(s) {', '.join(unknown)}; an image write takes "
                                        f"{BASE64_FIELD} or {URL_FIELD}, id and fields")
    given = [key for key in (BASE64_FIELD, URL_FIELD) if body.get(key) is not None]
    if len(given) != 1 or not isinstance(body[given[0]], str):
        raise UploadRejected("missing_image", f"give the image as exactly one of {BASE64_FIELD} (base64 text) or "
                                              f"{URL_FIELD} (an http(s):// URL or s3://bucket/key)")
    doc_id = meta_id
    if body.get("id") is not None:
        body_id = check_write_id(body["id"])
        if meta_id is not None and body_id != meta_id:
            raise WriteRejected("bad_id", f"two ids: {meta_id!r} in the action line, {body_id!r} in the source")
        doc_id = body_id
    fields = check_fields(body.get("fields"), registry)
    if given[0] == BASE64_FIELD:
        image = ImageInput(data=decode_base64_image(body[BASE64_FIELD], max_bytes))
    else:
        image = ImageInput(location=body[URL_FIELD].strip())
    return WriteOp(action, doc_id, fields, image)


def fields_from_patch(body: object, registry: FieldRegistry) -> dict:
    """PATCH /api/images/<id>'s {"fields": {...}}, checked by the registry; something must change."""
    if not isinstance(body, dict) or set(body) != {"fields"}:
        raise WriteRejected("bad_json", "the body must be a JSON object {\"fields\": {...}}")
    fields = check_fields(body["fields"], registry)
    if not fields:
        raise WriteRejected("bad_json", "fields is empty: nothing to change")
    return fields


# --------------------------------------------------------------------------- bulk


def max_line_bytes(max_upload_bytes: int) -> int:
    return max_upload_bytes * 4 // 3 + LINE_OVERHEAD


def bulk_lines(stream: IO[bytes], max_line: int) -> Iterator[tuple[int, object]]:
    """(line number, parsed JSON) for every non-blank line, read one at a time; QueryError (400) for a line
    that is not JSON, UploadRejected (413) for one longer than `max_line`."""
    number = 0
    while True:
        line = stream.readline(max_line + 1)
        if not line:
            return
        number += 1
        if len(line) > max_line and not line.endswith(b"\n"):
            raise UploadRejected("too_large", f"line {number} is longer than {max_line} bytes", status=413)
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except ValueError as exc:
            raise QueryError(f"line {number} is not valid JSON ({exc}); a bulk body is NDJSON: an action line, "
                             "then its source line") from None


def bulk_ops(lines: Iterator[tuple[int, object]], registry: FieldRegistry, max_bytes: int,
             max_items: int) -> Iterator[WriteOp | WriteOutcome]:
    """The operations of a bulk body, in order; an operation whose content is bad comes as its failed
    outcome. Broken structure raises QueryError (400), too many operations UploadRejected (413)."""
    count = 0
    for number, action_line in lines:
        if not isinstance(action_line, dict) or len(action_line) != 1:
            raise QueryError(f"line {number}: an action line is an object with one key, one of {', '.join(ACTIONS)}")
        action, meta = next(iter(action_line.items()))
        if action not in ACTIONS:
            raise QueryError(f"line {number}: unknown action {action!r}; one of {', '.join(ACTIONS)}")
        if not isinstance(meta, dict) or set(meta) - {"_id"}:
            raise QueryError(f"line {number}: the action's metadata is an object with at most _id")
        count += 1
        if count > max_items:
            raise UploadRejected("too_many_items", f"a bulk request takes at most {max_items} operations", status=413)
        source = None
        if action != "delete":
            following = next(lines, None)
            if following is None:
                raise QueryError(f"line {number}: the {action} action has no source line after it")
            source = following[1]
        yield _bulk_op(action, meta.get("_id"), source, registry, max_bytes)


def _bulk_op(action: str, raw_id: object, source: object, registry: FieldRegistry,
             max_bytes: int) -> WriteOp | WriteOutcome:
    op = WriteOp(action, raw_id if isinstance(raw_id, str) else None)
    try:
        doc_id = check_write_id(raw_id) if raw_id is not None else None
        if action in ("index", "create"):
            return image_op_from_json(action, source, doc_id, registry, max_bytes)
        if doc_id is None:
            raise WriteRejected("bad_id", f"{action} needs an _id")
        if action == "delete":
            return WriteOp(action, doc_id)
        if not isinstance(source, dict) or set(source) != {"doc"}:
            raise WriteRejected("bad_json", "an update's source line is {\"doc\": {...}}")
        return WriteOp(action, doc_id, check_fields(source["doc"], registry))
    except UploadRejected as rejected:
        return failed(op, rejected.reason, str(rejected), rejected.http_status)
