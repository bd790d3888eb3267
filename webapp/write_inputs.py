"""What a write request brings, read through the write models (webapp/write_schemas.py): an image and its
fields from multipart or JSON, and a bulk body's operations.

POST /api/images takes a multipart file `image` with form fields (`id`, `fields` as a JSON object, or any
settable field as a part of its own name, repeatable for a list, parsed as a records file's cells; other
parts are left alone, as a form's submit button is), or JSON {"image_base64" | "url", "id", "fields": {...}}.
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
from es_search.remote.allow_list import write_location_problem
from ingest.records import RecordColumns
from ingest.write_fields import check_fields, check_write_id
from ingest.write_ops import ACTIONS, ImageInput, WriteOp, WriteOutcome, failed
from webapp.inputs import UPLOAD_FIELD, uploaded_file
from webapp.write_schemas import form_write_model, image_write_model, parse_write, patch_model, update_line_model

# A bulk line may carry one base64 image (4 characters per 3 bytes) and its fields.
LINE_OVERHEAD = 64 * 1024


def image_op_from_request(request: Request, settings, registry: FieldRegistry) -> WriteOp:
    """POST /api/images's operation; WriteRejected / UploadRejected (4xx) for anything unusable."""
    if request.is_json:
        return image_op_from_json("index", parse_write(image_write_model(settings, registry), request.get_data()),
                                  settings=settings)
    data = uploaded_file(request, settings.max_upload_bytes)
    settable = RecordColumns.from_registry(registry).settable
    fields: dict[str, object] = {}
    for key in request.form:
        if key in settable:
            values = request.form.getlist(key)
            fields[key] = values if len(values) > 1 else values[0]
    if "fields" in request.form:
        try:
            given = json.loads(request.form["fields"])
        except ValueError:
            raise WriteRejected("bad_json", "the form field `fields` must hold a JSON object") from None
        if not isinstance(given, dict):
            raise WriteRejected("bad_json", "the form field `fields` must hold a JSON object")
        check_fields(given, registry, strict=True)  # JSON states its types: a number is no title
        fields.update(given)
    form = {"fields": fields, **({"id": request.form["id"]} if request.form.get("id") else {})}
    parsed = parse_write(form_write_model(registry), form)
    name = (request.files[UPLOAD_FIELD].filename or "").replace("\\", "/").rsplit("/", 1)[-1][:255] or None
    return WriteOp("index", parsed.id, parsed.fields or {}, ImageInput(data=data, name=name))


def image_op_from_json(action: str, parsed, meta_id: str | None = None, *, settings) -> WriteOp:
    """An index/create operation from a parsed ImageWriteBody (a bulk source line with the action's `_id`); a
    `url` outside the allow-lists is WriteRejected (403 location_not_allowed)."""
    doc_id = meta_id
    if parsed.id is not None:
        if meta_id is not None and parsed.id != meta_id:
            raise WriteRejected("bad_id", f"two ids: {meta_id!r} in the action line, {parsed.id!r} in the source")
        doc_id = parsed.id
    if parsed.image_base64 is None:
        problem = write_location_problem(parsed.url.strip(), settings.write_url_hosts, settings.write_s3_buckets)
        if problem:
            raise WriteRejected("location_not_allowed", problem, status=403)
    image = ImageInput(data=parsed.image_base64) if parsed.image_base64 is not None else \
        ImageInput(location=parsed.url.strip())
    return WriteOp(action, doc_id, parsed.fields or {}, image)


def fields_from_patch(body: bytes, registry: FieldRegistry) -> dict:
    """PATCH /api/images/<id>'s {"fields": {...}}, checked by the registry; something must change."""
    return parse_write(patch_model(registry), body).fields


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


def bulk_ops(lines: Iterator[tuple[int, object]], settings, registry: FieldRegistry, max_items: int
             ) -> Iterator[WriteOp | WriteOutcome]:
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
        yield _bulk_op(action, meta.get("_id"), source, settings, registry)


def _bulk_op(action: str, raw_id: object, source: object, settings, registry: FieldRegistry) -> WriteOp | WriteOutcome:
    op = WriteOp(action, raw_id if isinstance(raw_id, str) else None)
    try:
        doc_id = check_write_id(raw_id) if raw_id is not None else None
        if action in ("index", "create"):
            return image_op_from_json(action, parse_write(image_write_model(settings, registry), source), doc_id,
                                      settings=settings)
        if doc_id is None:
            raise WriteRejected("bad_id", f"{action} needs an _id")
        if action == "delete":
            return WriteOp(action, doc_id)
        return WriteOp(action, doc_id, parse_write(update_line_model(registry), source).doc)
    except UploadRejected as rejected:
        return failed(op, rejected.reason, str(rejected), rejected.http_status)
