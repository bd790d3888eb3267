"""The watchlists through the API, and the review queue: routes of the `writes` blueprint, so every one of them
needs a write key (webapp/auth.py), reading ones included: a list's references and the held images are for
the people who run the service.

PUT /api/watchlists/<name> creates a list or changes it (its references stay); POST …/references adds one
reference image (as POST /api/images takes an image: multipart, base64 or a URL); DELETE takes a reference
or the whole list away. GET /api/review lists the flagged and held images beside the references they
matched; POST /api/review/<id>/release shows one again (DELETE /api/images/<id> deletes it).
"""

from __future__ import annotations

from flask import jsonify, request, url_for

from es_search.errors import UploadRejected, WriteRejected
from es_search.search.parsing import parse_body, parse_query
from es_search.search.request import check_image_id
from es_search.watchlists.lists import build_watchlist
from es_search.watchlists.review import release, review_queue
from es_search.watchlists.store import WatchlistStore
from ingest.image_write import is_fetchable
from ingest.items import Item
from ingest.watchlist_refs import add_references
from ingest.write_ops import FAILURE_STATUS
from webapp import schemas, write_schemas
from webapp.context import app_settings, field_registry, remote_reader, search_service
from webapp.inputs import request_params
from webapp.openapi import documented
from webapp.schemas import serialise
from webapp.write_inputs import image_op_from_request
from webapp.writes import writes


def _store() -> WatchlistStore:
    return WatchlistStore(search_service().es, app_settings().index_alias)


def _answer(watchlist, references: int) -> dict:
    return serialise(schemas.WatchlistAnswer, {**watchlist.to_dict(), "references": references})


@writes.get("/watchlists")
@documented("The watchlists, with their policies, thresholds, prompts and sizes", response=schemas.WatchlistsBody,
            errors=(503,))
def list_watchlists():
    """Every watchlist and how many reference images it holds."""
    store = _store()
    counts = store.reference_counts()
    return jsonify(serialise(schemas.WatchlistsBody, {"watchlists": [
        _answer(watchlist, counts.get(name, 0)) for name, watchlist in sorted(store.lists().items())]}))


@writes.put("/watchlists/<watchlist_name>")
@documented("Create a watchlist, or change one (its reference images stay)", response=schemas.WatchlistAnswer,
            body="watchlist", errors=(400, 503), created=True)
def put_watchlist(watchlist_name: str):
    """A list's policy, thresholds, description and prompts (each prompt's text is encoded by the text model).
    201 when it is new, 200 when it was changed."""
    if not request.is_json:
        raise WriteRejected("bad_json", "the body must be JSON: {\"policy\": \"flag\" | \"hold\" | \"refuse\", ...}")
    body = parse_body(write_schemas.WatchlistBody, request.get_data())
    settings, store = app_settings(), _store()
    exists = watchlist_name in store.lists()
    watchlist = build_watchlist(
        watchlist_name, policy=body.policy,
        similarity=settings.watchlist_similarity if body.similarity is None else body.similarity,
        phash_distance=settings.watchlist_phash_distance if body.phash_distance is None else body.phash_distance,
        description=body.description,
        prompts=[(p.text, settings.watchlist_prompt_threshold if p.threshold is None else p.threshold)
                 for p in body.prompts],
        encode=lambda texts: search_service().text_encoder.encode_texts(texts))
    saved = store.save(watchlist, create=not exists)
    return jsonify(_answer(saved, store.reference_count(watchlist_name))), 200 if exists else 201


@writes.delete("/watchlists/<watchlist_name>")
@documented("Delete a watchlist and its reference images", response=schemas.WatchlistRemovedBody,
            errors=(400, 404, 503))
def delete_watchlist(watchlist_name: str):
    """The images it matched keep their status until they are released or deleted."""
    removed = _store().delete(watchlist_name)
    return jsonify(serialise(schemas.WatchlistRemovedBody, {"watchlist": watchlist_name, "removed": removed}))


@writes.post("/watchlists/<watchlist_name>/references")
@documented("Add a reference image to a watchlist", response=schemas.ReferencesAddedBody, body="image_write",
            errors=(400, 404, 503))
def add_reference(watchlist_name: str):
    """One image, as POST /api/images takes it (a multipart file `image`, or JSON with `image_base64` or `url`);
    `id` and `fields` do not apply. New images are checked against it from now on; the images indexed already
    by `imgsearch watchlist scan`."""
    settings = app_settings()
    _store().get(watchlist_name)
    op = image_op_from_request(request, settings, field_registry())
    if op.doc_id is not None or op.fields:
        raise WriteRejected("bad_field", "a reference image takes no id and no fields")
    image = op.image
    if image.location is not None and not is_fetchable(image.location):
        raise WriteRejected("bad_location", "url must be an http(s):// URL or s3://bucket/key")
    item = Item(location=image.location, data=image.data, name=image.name)
    service = search_service()
    result = add_references(settings, watchlist_name, [item], es=service.es, image_encoder=service.image_encoder,
                            read_remote=remote_reader().read)
    if result.failed and not result.added:
        failure = result.failures[0]
        raise UploadRejected(failure["reason"], failure["message"], FAILURE_STATUS.get(failure["reason"], 400))
    return jsonify(serialise(schemas.ReferencesAddedBody, result.to_dict()))


@writes.delete("/watchlists/<watchlist_name>/references/<reference>")
@documented("Take a reference image off a watchlist", response=schemas.WatchlistRemovedBody,
            errors=(400, 404, 503))
def remove_reference(watchlist_name: str, reference: str):
    """By the reference image's sha256; 404 when the list does not hold it."""
    store = _store()
    store.reference(watchlist_name, reference)  # 404 unless there
    removed = store.remove_references(watchlist_name, [reference])
    return jsonify(serialise(schemas.WatchlistRemovedBody, {"watchlist": watchlist_name, "removed": removed}))


@writes.get("/review")
@documented("Flagged and held images, beside the references they matched", response=schemas.ReviewBody,
            params="review", errors=(400, 503))
def review():
    """Newest first. A held image is in no search until it is released (POST /api/review/<id>/release) or
    deleted (DELETE /api/images/<id>)."""
    params = parse_query(write_schemas.ReviewParams, request_params(request))
    settings = app_settings()
    page = review_queue(search_service().es, settings.index_alias, status=params.status, watchlist=params.watchlist,
                        page=params.page, size=params.size, max_depth=settings.max_result_window)
    return jsonify(serialise(schemas.ReviewBody, {"total": page.total, "page": page.page, "size": page.size,
                                                  "items": [_review_item(item) for item in page.items]}))


@writes.post("/review/<doc_id:image_id>/release")
@documented("Show a flagged or held image again", response=schemas.ReleasedBody, errors=(400, 404, 409, 503))
def release_image(image_id: str):
    """Its watchlist status becomes `released`; its lists and matches stay on it."""
    answer = release(search_service().es, app_settings().index_alias, check_image_id(image_id))
    return jsonify(serialise(schemas.ReleasedBody, answer))


def _review_item(item: dict) -> dict:
    source, references = item["source"], item["references"]
    matches = []
    for match in source.get("watchlist_matches") or ():
        shown = dict(match)
        reference = references.get((match.get("list"), match.get("reference")))
        if reference and reference.get("thumbnail"):
            shown["reference_thumbnail"] = url_for("pages.thumbnail", relative=reference["thumbnail"])
        matches.append(shown)
    thumbnail = source.get("thumbnail")
    return {"id": item["id"], "watchlist_status": source.get("watchlist_status"),
            "watchlists": source.get("watchlists") or [], "title": source.get("title"),
            "thumbnail": url_for("pages.thumbnail", relative=thumbnail) if thumbnail else None,
            "indexed_at": source.get("indexed_at"), "matches": matches}
