"""The write API: add, change and delete images, one at a time or in bulk. Every write route is in this one
blueprint (`writes`), so that one rule can guard them all (a write key).

Each view turns its request into write operations (webapp/write_inputs.py) and hands them to the ingest's
`ImageWriter`, which decodes, enriches, encodes with the app's own loaded models and indexes; the answers
are the stored documents, as GET /api/images/<id> shows them. `?refresh=wait_for` (the default) answers once
the write is searchable; `?refresh=false` skips that wait.
"""

from __future__ import annotations

import threading
import time

from flask import Blueprint, current_app, g, jsonify, request

from es_search.audit import record
from es_search.errors import Forbidden, ImageNotFound, QueryError, WriteRejected
from es_search.search.parsing import parse_query
from es_search.visibility import current_scope
from ingest.image_write import ImageWriter
from ingest.write_fields import check_write_id
from ingest.write_ops import IMAGE_ACTIONS, WriteOp, WriteOutcome, failed
from webapp import schemas, write_schemas
from webapp.context import app_settings, field_registry, remote_reader, search_service
from webapp.inputs import request_params
from webapp.metrics import count_watchlist_match
from webapp.openapi import documented
from webapp.present import document_to_json
from webapp.schemas import serialise
from webapp.write_inputs import bulk_lines, bulk_ops, fields_from_patch, image_op_from_request, max_line_bytes
from webapp.write_schemas import refresh_model
from webapp.write_scope import SCOPED_ENDPOINTS, scoped_op

writes = Blueprint("writes", __name__)
_WRITER_LOCK = threading.Lock()
BULK_CONTENT_TYPES = ("application/x-ndjson", "application/json", "text/plain", "")


def _writer() -> ImageWriter:
    """The app's one writer, on the search service's models (built on first use)."""
    extensions = current_app.extensions
    writer = extensions.get("image_writer")
    if writer is None:
        with _WRITER_LOCK:
            writer = extensions.get("image_writer")
            if writer is None:
                service = search_service()
                writer = extensions["image_writer"] = ImageWriter(service.es, app_settings(), service,
                                                                  remote_reader(),
                                                                  on_watchlist_match=count_watchlist_match)
    return writer


def _refresh() -> str:
    refresh = parse_query(refresh_model(), request_params(request)).refresh
    return refresh or "true"  # `?refresh` alone, as Elasticsearch reads it


@writes.before_request
def scoped_keys_write_images_only() -> None:
    """People, watchlists and the review queue belong to the whole deployment: not to a key with a filter."""
    if current_scope() and request.endpoint not in SCOPED_ENDPOINTS:
        raise Forbidden("this API key is limited to a part of the images: it may write images, not this")


def _stored(doc_id: str) -> dict | None:
    """The document with this id as stored, whatever the request's scope (to judge a scoped write)."""
    response = search_service().es.options(ignore_status=404).get(
        index=app_settings().index_alias, id=doc_id, source_includes=list(current_scope() or ()))
    return response.get("_source", {}) if response.get("found") else None


def _scoped(op: WriteOp) -> WriteOp:
    """`op` as the request's key may make it (webapp/write_scope.py); as it is for a key without a filter."""
    scope = current_scope()
    return scoped_op(op, scope, _stored) if scope else op


def _scoped_or_failed(item):
    """A bulk item judged alone: out of the key's scope, it fails and the rest go on."""
    if isinstance(item, WriteOutcome):
        return item
    try:
        return _scoped(item)
    except ImageNotFound as exc:
        return failed(item, "not_found", str(exc), 404)
    except WriteRejected as exc:
        return failed(item, exc.reason, str(exc), exc.http_status)


def _one(op: WriteOp) -> WriteOutcome:
    op = _scoped(op)
    with search_service().model_gate.slot():  # a 503 before anything is written when the model is too busy
        outcome = _writer().apply([op], _refresh())[0]
    if not outcome.ok:
        raise outcome.to_error()
    return outcome


def _document(outcome: WriteOutcome) -> dict:
    # The writer sees what it wrote, even an image a watchlist holds for review (its status says so).
    body = document_to_json(outcome.doc_id, search_service().get_image(outcome.doc_id, held_too=True),
                            app_settings())
    body["result"] = outcome.result
    if outcome.encoded is not None:
        body["encoded"] = outcome.encoded
    return serialise(write_schemas.WrittenImageBody, body)


@writes.after_request
def audit_write(response):
    """Every change through this API, as one line of the audit log (es_search/audit.py): reads are left out."""
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        error = (response.get_json(silent=True) or {}).get("error") if response.status_code >= 400 else None
        ids = getattr(g, "audit_ids", None) or [str(v) for v in (request.view_args or {}).values()]
        record(app_settings(), (request.endpoint or request.path).removeprefix("writes."), es=search_service().es,
               actor=getattr(g, "api_key_name", None) or "anonymous", ids=ids,
               outcome="ok" if response.status_code < 400 else (error or {}).get("code", "error"),
               status=response.status_code, request_id=getattr(g, "request_id", None),
               details=getattr(g, "audit_details", None))
    return response


@writes.post("/images")
@documented("Add an image: decoded, enriched, encoded and indexed; answers the stored document",
            response=write_schemas.WrittenImageBody, params="refresh", body="image_write",
            errors=(400, 409, 422, 503), created=True)
def add_image():
    """Add (or replace) one image: a multipart file `image` with form fields, or JSON with `image_base64` or
    `url` (http(s) or s3://), an optional `id` (else the content's sha256) and `fields` from the field
    registry. 201 when created; 200 when the id existed (`encoded: false` when its bytes were the same, so
    only the fields were written)."""
    op = image_op_from_request(request, app_settings(), field_registry())
    outcome = _one(op)
    g.audit_ids = [outcome.doc_id]
    return jsonify(_document(outcome)), 201 if outcome.result == "created" else 200


@writes.patch("/images/<doc_id:image_id>")
@documented("Change an image's fields, without encoding it again", response=write_schemas.WrittenImageBody,
            params="refresh", body="patch", errors=(400, 404, 503))
def patch_image(image_id: str):
    """Set or clear (null) fields of an indexed image: title, caption, tags and the schema's fields. Fields
    computed from the image (vector, sha256, colours, size...) are refused."""
    op = WriteOp("update", check_write_id(image_id), fields_from_patch(request.get_data(), field_registry()))
    return jsonify(_document(_one(op)))


@writes.delete("/images/<doc_id:image_id>")
@documented("Delete an image and its thumbnail", response=write_schemas.DeletedBody, params="refresh",
            errors=(400, 404, 503))
def delete_image(image_id: str):
    """Delete an image's document; its thumbnail too, unless another document shows the same content."""
    outcome = _one(WriteOp("delete", check_write_id(image_id)))
    if outcome.result != "deleted":
        raise ImageNotFound(f"no indexed image has id {image_id}")
    return jsonify(serialise(write_schemas.DeletedBody, {"id": outcome.doc_id, "result": outcome.result}))


@writes.post("/images/_bulk")
@documented("Many writes in one request, as NDJSON; answered per item like Elasticsearch's bulk",
            response=write_schemas.BulkBody, params="refresh", body="bulk", errors=(400, 503))
def bulk():
    """NDJSON action/source pairs, read line by line: index/create (source like POST /api/images's JSON),
    update ({"doc": {...}}), delete. A body with a broken line is refused whole, before anything is written;
    a bad item fails alone. Images are encoded in batches."""
    started = time.monotonic()
    settings = app_settings()
    if request.mimetype not in BULK_CONTENT_TYPES:
        raise QueryError("send the bulk body as application/x-ndjson")
    request.max_content_length = settings.write_bulk_max_bytes
    refresh = _refresh()
    lines = bulk_lines(request.stream, max_line_bytes(settings.max_upload_bytes))
    parsed = [_scoped_or_failed(item) for item in bulk_ops(lines, settings, field_registry(),
                                                             settings.write_bulk_max_items)]
    if not parsed:
        raise QueryError("the bulk body holds no operation: send NDJSON action lines (and their source lines)")
    with search_service().model_gate.slot():  # one turn for the whole body, taken before any item is written
        outcomes = _apply_in_batches(parsed, refresh, settings.batch_size)
    g.audit_ids = [outcome.doc_id for outcome in outcomes if outcome.doc_id]
    g.audit_details = {"failed": sum(1 for outcome in outcomes if not outcome.ok)}
    return jsonify(serialise(write_schemas.BulkBody, {
        "took": round((time.monotonic() - started) * 1000), "errors": any(not outcome.ok for outcome in outcomes),
        "items": [outcome.to_item() for outcome in outcomes]}))


def _apply_in_batches(parsed: list, refresh: str, batch_size: int) -> list[WriteOutcome]:
    """Outcomes in order: operations go to the writer in runs holding at most `batch_size` images (one
    encode batch and one Elasticsearch bulk each); items that failed while parsing keep their place."""
    outcomes: list[WriteOutcome] = []
    run: list[WriteOp] = []
    places: list[int] = []
    slots: list[WriteOutcome | None] = []

    def flush() -> None:
        for place, outcome in zip(places, _writer().apply(run, refresh) if run else [], strict=True):
            slots[place] = outcome
        run.clear()
        places.clear()

    for item in parsed:
        if isinstance(item, WriteOutcome):
            slots.append(item)
            continue
        places.append(len(slots))
        slots.append(None)
        run.append(item)
        if sum(op.action in IMAGE_ACTIONS for op in run) >= batch_size:
            flush()
    flush()
    outcomes.extend(slot for slot in slots if slot is not None)
    return outcomes


# --------------------------------------------------------------------------- people


def _person_body(model):
    from es_search.search.parsing import parse_body

    if not request.is_json:
        raise QueryError("the body must be JSON")
    return parse_body(model, request.get_data())


@writes.patch("/people/<person_id>")
@documented("Name a person (or take the name away)", response=schemas.PersonBody, body="person_name",
            errors=(400, 404, 409, 503))
def name_person(person_id: str):
    """Give a person a name; `person=<name>` then finds their images. A name another person has is 409:
    merge the two instead."""
    body = _person_body(write_schemas.PersonNameBody)
    renamed = search_service().people().rename(person_id, body.name).to_dict()
    search_service().forget_field_values()  # the new name is understood in queries at once (this worker)
    return jsonify(serialise(schemas.PersonBody, renamed))


@writes.post("/people/<person_id>/merge")
@documented("Merge a person into another", response=schemas.PersonBody, body="person_merge",
            errors=(400, 404, 503))
def merge_person(person_id: str):
    """Every face of this person becomes `into`'s (a person's id or name); `into` keeps its name (or takes
    this one's)."""
    body = _person_body(write_schemas.PersonMergeBody)
    people = search_service().people()
    into = people.resolve([body.into])[0]
    return jsonify(serialise(schemas.PersonBody, people.merge(person_id, into).to_dict()))


@writes.post("/people/<person_id>/split")
@documented("Split some images off a person, as a new person", response=schemas.PersonBody, body="person_split",
            errors=(400, 404, 503))
def split_person(person_id: str):
    """This person's faces in `images` become a new person (the answer)."""
    body = _person_body(write_schemas.PersonSplitBody)
    return jsonify(serialise(schemas.PersonBody, search_service().people().split(person_id, body.images).to_dict()))


@writes.delete("/people/<person_id>")
@documented("Remove a person with every face of theirs", response=schemas.PersonRemovedBody, errors=(404, 503))
def remove_person(person_id: str):
    """Every face of this person (box and descriptor) is taken off its image, and the name forgotten; the
    images stay."""
    changed = search_service().people().remove(person_id)
    return jsonify(serialise(schemas.PersonRemovedBody, {"id": person_id, "images": changed}))
