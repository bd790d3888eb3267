"""The gallery's HTML pages: search (text, upload, similar, filters, pages), one image, its files, near-duplicate
groups, people and search by a face."""

from __future__ import annotations

import base64
import io
from dataclasses import replace

from flask import Blueprint, abort, g, render_template, request, send_file, url_for

from es_search.errors import IndexMissing
from es_search.ocr.lines import line_matches
from es_search.search.contract import duplicates_model, filters_model, filters_of, people_model
from es_search.search.filters import SearchFilters
from es_search.search.parsing import parse_query
from es_search.search.request import SearchRequest, check_image_id, parse_search_request
from es_search.search.studies import case_filters
from es_search.visibility import current_scope
from ingest.thumbnails import content_of_thumbnail
from webapp.context import app_settings, field_registry, remote_reader, search_service
from webapp.files import resolve_original, resolve_thumbnail, resolve_video
from webapp.inputs import image_search_input, request_params
from webapp.present import (
    appearances_shown,
    face_result_to_json,
    feedback_links,
    image_links,
    multi_pairs,
    page_link_with_query,
    query_chips,
    safe_colors,
    search_link,
    shown_source,
    study_to_json,
    understood_chips,
)
from webapp.remote_originals import original_response, redirect_origin, remote_original

pages = Blueprint("pages", __name__)

SIMILAR_ON_IMAGE_PAGE = 12
DUPLICATE_GROUPS_PER_PAGE = 10
PEOPLE_PER_PAGE = 48
FILE_MAX_AGE = 3600
# Served files get a sandbox of their own: even an odd file can run nothing.
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


@pages.get("/")
def search():
    """The search page; every parameter the API's GET /api/search takes works here too."""
    search_request = parse_search_request(request_params(request), app_settings(), field_registry(),
                                          collapse_default=True)
    return _render_results(search_request)


@pages.post("/search/image")
def search_image():
    """An uploaded image (button or drag-and-drop), searched with the filters sent beside it."""
    data, search_request = image_search_input(request, app_settings(), field_registry(), collapse_default=True, form=True)
    return _render_results(search_request, image=data)


def _render_results(search_request: SearchRequest, image: bytes | None = None):
    search_request = replace(search_request, with_facets=True)
    try:
        result = search_service().search(search_request, image=image)
    except IndexMissing:
        return render_template("search.html", result=None, request_=search_request, facets=None,
                               notice="nothing_indexed", preview=None), 503
    if result.kind == "image" and result.query_vector is not None:
        # Further pages and filters carry the query vector instead of the image, and the words read in it.
        search_request = replace(result.request, vector=tuple(float(x) for x in result.query_vector))
    preview = _preview(result.query_image) if result.query_image is not None else None
    groups = {group.best.id: group for group in result.groups or []}
    hits = [dict(hit.to_dict(), image=shown_source(hit.source, app_settings()), rank=result.offset + i + 1,
                 appearances=appearances_shown(groups.get(hit.id)),
                 links=dict(image_links(hit.id, hit.source, search_request.filters),
                            page=page_link_with_query(hit.id, search_request),
                            **feedback_links(search_request, hit.id)))
            for i, hit in enumerate(result.hits)]
    image_ids = [part.value for part in search_request.query_parts() if part.kind == "image"]
    chips = query_chips(search_request, search_service().sources(image_ids) if image_ids else {})
    understood = understood_chips(search_request, result.understood, field_registry(), g.lang)
    similar_source = None
    if result.kind == "similar":
        try:
            similar_source = dict(search_service().get_image(search_request.similar_to), id=search_request.similar_to)
        except LookupError:
            similar_source = None
    return render_template("search.html", result=result, hits=hits, request_=search_request,
                           facets=(result.facets or {}).get("facets"), matching=(result.facets or {}).get("matching"),
                           similar_source=similar_source, preview=preview, notice=None, chips=chips,
                           understood=understood,
                           literal_link=search_link(replace(search_request, literal=not search_request.literal,
                                                            as_text=(), page=1)),
                           link=lambda **changes: search_link(search_request, **changes),
                           clear_link=search_link(replace(search_request, filters=SearchFilters(), page=1,
                                                          min_similarity=None)))


def _preview(decoded) -> str:
    """A small JPEG of the uploaded (already safely decoded) image as a data: URL, shown beside the results."""
    image = decoded.copy()
    image.thumbnail((160, 160))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@pages.get("/image/<image_id>")
def image(image_id: str):
    """One image: the picture, its metadata and colours, and the images most like it. Filters in the query
    string (carried by the result links that lead here) narrow the similar images and their links."""
    settings = app_settings()
    registry = field_registry()
    filters = filters_of(parse_query(filters_model(registry), request_params(request), blank_is_absent=True), registry)
    service = search_service()
    source = service.get_image(image_id)
    original = resolve_original(source.get("paths") or [], settings.image_roots, source.get("format"))
    remote = None if original else remote_original(source.get("paths") or [], source.get("format"),
                                                   settings.remote_originals)
    if remote is not None:
        g.image_origin = redirect_origin(remote[0], settings)  # joins the page's img-src (app.py)
    video = resolve_video(source.get("paths") or [], settings.image_roots)
    # A DICOM image's similar cases (the list, "find similar", a region) keep its modality, body part and
    # department; a photo's keep the filters that led here.
    cases = case_filters(source, filters, registry)
    kept = [registry.by_param(param) for param in cases.terms if not filters.selected(param)]
    similar = service.similar(image_id, size=SIMILAR_ON_IMAGE_PAGE, filters=cases)
    query = parse_search_request(request_params(request), settings, registry)
    searched, _ = service.understand(query)  # the words the search that led here ranked by (its dates are filters)
    why = service.explain_image(searched, image_id) if searched.query_parts() else None
    similar_hits = [dict(hit.to_dict(), image=shown_source(hit.source, settings), rank=i + 1,
                         links=image_links(hit.id, hit.source, cases))
                    for i, hit in enumerate(similar.hits)]
    faces = _faces_shown(source.get("faces") or [])
    words = searched.keywords()  # what the keyword leg of the search that led here matched
    text_boxes = [dict(line, matched=bool(words) and line_matches(line.get("text", ""), words))
                  for line in source.get("ocr_lines") or [] if isinstance(line, dict) and len(line.get("box", ())) == 4]
    return render_template("image.html", image_id=image_id, source=shown_source(source, settings),
                           text_boxes=text_boxes, faces=faces, video_at=video[2] if video else None,
                           links=image_links(image_id, source, cases), original_served=bool(original or remote),
                           case_fields=kept,
                           colors=safe_colors(source.get("dominant_colors")), similar_hits=similar_hits, why=why,
                           query_link=search_link(replace(query, filters=filters)) if why else None,
                           recommend_next=settings.recommend_next,
                           request_=SearchRequest(similar_to=image_id, filters=cases))


@pages.get("/duplicates")
def duplicates():
    """Near-duplicate groups side by side (`?group=ID` shows one group): paths, sizes, dates and each
    member's similarity to the representative."""
    from es_search.duplicates.service import DuplicateFinder

    settings = app_settings()
    finder = DuplicateFinder(search_service().es, settings)
    group_id = request.args.get("group")
    page_number = parse_query(duplicates_model(), request_params(request), blank_is_absent=True).page
    if group_id:
        groups, listing = [finder.group(check_image_id(group_id))], None
    else:
        listing = finder.groups(page=page_number, size=DUPLICATE_GROUPS_PER_PAGE)
        groups = listing.groups
    shown = [{"id": group.id, "size": group.size,
              "members": [{"id": m.id, "representative": m.representative, "similarity": m.similarity,
                           "image": shown_source(m.source, settings), "links": image_links(m.id, m.source)}
                          for m in group.members]} for group in groups]
    return render_template("duplicates.html", groups=shown, listing=listing, single=bool(group_id),
                           request_=SearchRequest())


@pages.get("/review")
def review():
    """The watchlist review queue: an empty page that app.js fills from GET /api/review with a write key."""
    return render_template("review.html", request_=SearchRequest())


@pages.get("/study/<study_uid>")
def study(study_uid: str):
    """A DICOM study: its series in Series Number order, each with its images in Instance Number order."""
    body = study_to_json(search_service().study(study_uid), app_settings())
    return render_template("study.html", study=body, request_=SearchRequest())


def _faces_shown(faces: list) -> list[dict]:
    """An image's faces for its page: box, number (for the face search), person and that person's name."""
    shown = [dict(face, number=n) for n, face in enumerate(faces)
             if isinstance(face, dict) and len(face.get("box") or ()) == 4]
    persons = [face["person"] for face in shown if face.get("person")]
    names = search_service().people().names(persons) if persons else {}
    return [dict(face, name=names.get(face.get("person"))) for face in shown]


@pages.get("/people")
def people():
    """Every person the faces were grouped into, most images first: a face, the name, how many images."""
    paging = parse_query(people_model(), request_params(request), blank_is_absent=True)
    found, total = search_service().people().list(page=paging.page, size=PEOPLE_PER_PAGE)
    covers = search_service().sources([p.cover_image for p in found if p.cover_image])
    shown = [dict(p.to_dict(), thumbnail=image_links(p.cover_image, covers[p.cover_image])["thumbnail"]
                  if p.cover_image in covers else None) for p in found]
    return render_template("people.html", people=shown, total=total, page=paging.page,
                           has_next=paging.page * PEOPLE_PER_PAGE < total, request_=SearchRequest())


@pages.post("/search/faces")
def search_faces():
    """The faces of an uploaded image (the upload form's second button), matched against every indexed face."""
    data, search_request = image_search_input(request, app_settings(), field_registry(), form=True)
    result = search_service().search_faces(search_request.filters, image=data, page=search_request.page,
                                           size=search_request.size, group=search_request.group)
    return _render_faces(result, search_request, preview=_preview_bytes(data))


@pages.get("/faces/<image_id>/<int:face>")
def similar_faces(image_id: str, face: int):
    """Images with a face like face number `face` of this image (a face box clicked on its page)."""
    search_request = parse_search_request(request_params(request), app_settings(), field_registry())
    result = search_service().search_faces(search_request.filters, image_id=image_id, face=face,
                                           page=search_request.page, size=search_request.size,
                                           group=search_request.group)
    return _render_faces(result, search_request, source_id=image_id, face=face)


def _render_faces(result, search_request: SearchRequest, preview: str | None = None, source_id: str | None = None,
                  face: int | None = None):
    body = face_result_to_json(result, app_settings())
    groups = {group.best.id: group for group in result.groups or []}
    for hit in body["hits"]:
        hit["appearances"] = appearances_shown(groups.get(hit["id"]))
    prev_link = next_link = None
    if source_id is not None:  # an upload is not sent again: its results are one page
        def link(page: int) -> str:
            return url_for("pages.similar_faces", image_id=source_id, face=face, page=page, group=search_request.group,
                           **multi_pairs(search_request.filters.to_params()))
        prev_link = link(result.page - 1) if result.page > 1 else None
        next_link = link(result.page + 1) if result.has_next else None
    return render_template("faces.html", result=body, preview=preview, source_id=source_id, face=face,
                           prev_link=prev_link, next_link=next_link,
                           request_=search_request, names=search_service().people().names(
                               sorted({hit["person"] for hit in body["hits"] if hit.get("person")})))


def _preview_bytes(data: bytes) -> str | None:
    from es_search.decode import DecodeError, decode_bytes

    try:
        return _preview(decode_bytes(data, max_pixels=app_settings().max_image_pixels, min_side=0).image)
    except DecodeError:
        return None


@pages.get("/thumbnails/<path:relative>")
def thumbnail(relative: str):
    """A thumbnail, only from the thumbnails folder; for a scoped key, only one a visible image has (its name is
    the content hash, so a hash from elsewhere finds nothing)."""
    found = resolve_thumbnail(app_settings().thumbnails_dir, relative)
    if found is None or (current_scope() and not search_service().shows_content(content_of_thumbnail(relative))):
        abort(404)
    return _send(*found)


@pages.get("/video/<image_id>")
def video(image_id: str):
    """The video a frame was taken from, when it lies inside one of IMGSEARCH_IMAGE_ROOTS (range requests
    work, so a player can start at the frame's moment)."""
    found = resolve_video(search_service().get_image(image_id).get("paths") or [], app_settings().image_roots)
    if found is None:
        abort(404)
    return _send(found[0], found[1])


@pages.get("/original/<image_id>")
def original(image_id: str):
    """The original file, only when it lies inside one of IMGSEARCH_IMAGE_ROOTS, or when it is kept at a
    URL or in object storage (webapp/remote_originals.py)."""
    settings = app_settings()
    source = search_service().get_image(image_id)
    found = resolve_original(source.get("paths") or [], settings.image_roots, source.get("format"))
    if found is not None:
        return _send(*found)
    remote = remote_original(source.get("paths") or [], source.get("format"), settings.remote_originals)
    if remote is None:
        abort(404)
    headers = {"Content-Security-Policy": FILE_CSP, "Cache-Control": f"public, max-age={FILE_MAX_AGE}"}
    return original_response(*remote, settings, remote_reader(), headers)


def _send(path, mimetype: str):
    response = send_file(path, mimetype=mimetype, max_age=FILE_MAX_AGE, conditional=True)
    response.headers["Content-Security-Policy"] = FILE_CSP
    return response
