"""The JSON API: the same searches as the pages, from the same service calls. Every request is parsed by its
contract model and every answer serialised through its response model; errors are JSON too."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request, url_for

from es_search.errors import QueryError
from es_search.search.contract import duplicates_model, filters_model, filters_of, people_model, search_model
from es_search.search.parsing import parse_body, parse_query
from es_search.search.recommend import feedback_of, recommend_model
from es_search.search.request import SearchRequest, request_from
from webapp import schemas
from webapp.auth import has_valid_key
from webapp.context import app_settings, field_registry, search_service
from webapp.inputs import compound_search_input, image_search_input, request_params
from webapp.openapi import documented, openapi_spec
from webapp.present import document_to_json, duplicates_to_json, face_result_to_json, result_to_json, study_to_json

api = Blueprint("api", __name__)


def _query(params: dict | None = None) -> SearchRequest:
    registry = field_registry()
    params = request_params(request) if params is None else params
    return request_from(parse_query(search_model(app_settings(), registry), params), registry)


def _results(search: SearchRequest, image: bytes | None = None):
    result = search_service().search(search, image=image)
    return jsonify(schemas.serialise(schemas.SearchResultBody, result_to_json(result, app_settings())))


@api.get("/search")
@documented("Search by text, like an indexed image, by a query vector token, or a compound of them; "
            "browse without any",
            response=schemas.SearchResultBody, params="search", errors=(400, 404, 503))
def search():
    """Search by text (`q`), like an image (`similar`), by a query vector token (`vec`), or browse. Further
    parts make a compound query: `q` again, `not`, `like`, `unlike`, `not_vec`, each repeatable and weighted
    by a trailing `^number`; the query vector is the normalised weighted sum (negative parts subtract)."""
    return _results(_query())


@api.post("/search")
@documented("Search with a compound query given as JSON", response=schemas.SearchResultBody, body="compound",
            errors=(400, 404, 503))
def search_compound():
    """A compound query as JSON: `parts`, each a text, an indexed image (`image`: its id) or an uploaded
    image (`image_base64`), with an optional `weight` and `negative`; beside them any GET parameter."""
    service = search_service()
    search = compound_search_input(request, app_settings(), field_registry(),
                                   lambda data: service.encode_image_bytes(data)[0])
    return _results(search)


@api.post("/search/image")
@documented("Search with an image", response=schemas.SearchResultBody, params="paging", body="upload",
            errors=(400, 503))
def search_image():
    """Search with an uploaded image: multipart file `image`, or JSON `{"image_base64": ...}`. The search's
    parameters are query parameters, or JSON keys beside `image_base64` (which win over the query's)."""
    data, search = image_search_input(request, app_settings(), field_registry())
    return _results(search, image=data)


@api.get("/similar/<doc_id:image_id>")
@documented("Images most like an indexed image (itself left out)", response=schemas.SearchResultBody,
            params="paging", errors=(400, 404, 503))
def similar(image_id: str):
    """Images most like an indexed one (itself left out), with the same filters and paging."""
    params = request_params(request)
    params["similar"] = [image_id]
    return _results(_query(params))


@api.get("/recommend")
@documented("Images to show next, from what a visitor viewed (and liked, and disliked)",
            response=schemas.SearchResultBody, params="recommend", errors=(400, 503))
def recommend():
    """Images like those viewed (`viewed`, repeatable, the most recent first), and `liked`, unlike those
    `disliked`; none of them is in the answer. The paging, filters and similarity floor of a search apply,
    and its cutoff says where the good matches end. An id the index does not hold is passed over."""
    parsed = parse_query(recommend_model(app_settings(), field_registry()), request_params(request))
    return _recommended(parsed)


@api.post("/recommend")
@documented("Images to show next, from weighted views, likes and dislikes given as JSON",
            response=schemas.SearchResultBody, body="recommend_body", errors=(400, 503))
def recommend_json():
    """As GET /api/recommend, with each id alone or as {"id", "weight"} (its own weight instead of the one its
    place gives it), and `half_life`: after this many places back a view or like counts half as much."""
    if not request.is_json:
        raise QueryError("the body must be JSON: {\"viewed\": [\"<id>\", ...], \"liked\": [...], ...}")
    parsed = parse_body(recommend_model(app_settings(), field_registry(), text=False), request.get_data())
    return _recommended(parsed)


def _recommended(parsed):
    result = search_service().recommend(feedback_of(parsed), request_from(parsed, field_registry()))
    body = result_to_json(result, app_settings())
    # The next page is this recommendation's (its history left out again), not a search's; a POST is sent
    # again with `page`.
    body.pop("next", None)
    if result.has_next and request.method == "GET":
        body["next"] = url_for("api.recommend", **{**request.args.to_dict(flat=False), "page": [str(result.page + 1)]})
    return jsonify(schemas.serialise(schemas.SearchResultBody, body))


@api.get("/images/<doc_id:image_id>")
@documented("One image's document (without its vector) and links", response=schemas.ImageDocumentBody,
            errors=(400, 404, 503))
def image(image_id: str):
    """One image's document, without its vector."""
    body = document_to_json(image_id, search_service().get_image(image_id), app_settings())
    return jsonify(schemas.serialise(schemas.ImageDocumentBody, body))


@api.get("/studies/<doc_id:study_uid>")
@documented("A DICOM study: its series and their images, in the scanner's order", response=schemas.StudyBody,
            errors=(400, 404, 503))
def study(study_uid: str):
    """The images whose `study_uid` is this Study Instance UID, by series (Series Number order) and within a
    series by Instance Number: a study page's content. At most the result window (1000 by default) of images
    are listed; `total` says how many the study holds."""
    body = study_to_json(search_service().study(study_uid), app_settings())
    return jsonify(schemas.serialise(schemas.StudyBody, body))


@api.get("/facets")
@documented("Facet counts for the filter panel", response=schemas.FacetsBody, params="filters",
            errors=(400, 503))
def facets():
    """Facet counts for the filter panel, under the given filters."""
    registry = field_registry()
    filters = filters_of(parse_query(filters_model(registry), request_params(request)), registry)
    return jsonify(schemas.serialise(schemas.FacetsBody, search_service().facets(filters)))


@api.get("/duplicates")
@documented("Near-duplicate groups, largest first", response=schemas.DuplicatesBody, params="duplicates",
            errors=(400, 503))
def duplicates():
    """A page of near-duplicate groups: each with its members, the representative first, and each member's
    similarity to it. Groups are made by `imgsearch duplicates` and by ingest."""
    from es_search.duplicates.service import DuplicateFinder

    paging = parse_query(duplicates_model(), request_params(request))
    page = DuplicateFinder(search_service().es, app_settings()).groups(page=paging.page, size=paging.size)
    return jsonify(schemas.serialise(schemas.DuplicatesBody, duplicates_to_json(page, app_settings())))


@api.post("/search/faces")
@documented("Search by the faces in an image", response=schemas.FaceSearchBody, params="paging", body="upload",
            errors=(400, 503))
def search_faces():
    """Every face of the uploaded image (multipart `image`, or JSON `image_base64`) is matched against every
    indexed face: images ranked by their closest face, each with that face's box; the filters apply. Faces
    farther than the threshold (IMGSEARCH_FACE_MATCH_DISTANCE) are not matches and are not listed."""
    data, search = image_search_input(request, app_settings(), field_registry())
    result = search_service().search_faces(search.filters, image=data, page=search.page, size=search.size,
                                           group=search.group)
    return jsonify(schemas.serialise(schemas.FaceSearchBody, face_result_to_json(result, app_settings())))


@api.get("/faces/<doc_id:image_id>/<int:face>/similar")
@documented("Images with a face like one face of an indexed image (that image left out)",
            response=schemas.FaceSearchBody, params="paging", errors=(400, 404, 503))
def similar_faces(image_id: str, face: int):
    """Face number `face` (0-based, as the image's `faces` lists them) of an indexed image, searched as an
    uploaded face is."""
    search = _query()
    result = search_service().search_faces(search.filters, image_id=image_id, face=face, page=search.page,
                                           size=search.size, group=search.group)
    return jsonify(schemas.serialise(schemas.FaceSearchBody, face_result_to_json(result, app_settings())))


@api.get("/people")
@documented("People, most images first, each with a cover face", response=schemas.PeopleBody, params="people",
            errors=(400, 503))
def people():
    """A page of the people faces were grouped into (IMGSEARCH_FACES=on), with their names and image counts."""
    paging = parse_query(people_model(), request_params(request))
    found, total = search_service().people().list(page=paging.page, size=paging.size)
    body = {"page": paging.page, "size": paging.size, "total": total, "people": [p.to_dict() for p in found]}
    return jsonify(schemas.serialise(schemas.PeopleBody, body))


@api.get("/people/<person_id>")
@documented("One person", response=schemas.PersonBody, errors=(404, 503))
def person(person_id: str):
    """A person: name, how many images show them, a cover face. Their images: GET /api/search?person=<id>."""
    return jsonify(schemas.serialise(schemas.PersonBody, search_service().people().get(person_id).to_dict()))


@api.get("/health")
@documented("Whether searching can work; details only with an API key", response=schemas.HealthBody, errors=(503,))
def health():
    """200 when Elasticsearch answers and the index exists; 503 with the reason otherwise. Anonymous visitors
    learn only that; a request with a valid API key (or every request, with IMGSEARCH_HEALTH_DETAILS=true)
    gets the details too, never a path on the server."""
    settings = app_settings()
    report = search_service().health(details=settings.health_details or has_valid_key())
    return jsonify(schemas.serialise(schemas.HealthBody, report)), 200 if report["ok"] else 503


@api.get("/openapi.json")
@documented("This description", response=None)
def openapi():
    """This API described in OpenAPI 3.1."""
    return jsonify(openapi_spec(current_app, app_settings(), field_registry()))
