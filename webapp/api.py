"""The JSON API: the same searches as the pages, from the same service calls. Errors are JSON too."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from es_search.errors import QueryError
from es_search.search.filters import parse_filters
from es_search.search.parts import with_weight
from es_search.search.request import encode_vector, parse_search_request, whole_number
from webapp import schemas
from webapp.context import app_settings, field_registry, search_service
from webapp.inputs import compound_from_json, request_params, upload_from_request
from webapp.openapi import documented, openapi_spec
from webapp.present import document_to_json, duplicates_to_json, result_to_json

api = Blueprint("api", __name__)


def _parse(params: dict, allow_similar: bool = True):
    settings = app_settings()
    return parse_search_request(params, default_size=settings.default_page_size, max_size=settings.max_page_size,
                                allow_similar=allow_similar, registry=field_registry())


@api.get("/search")
@documented("Search by text, like an indexed image, by a query vector token, or a compound of them; "
            "browse without any",
            response=schemas.SearchResultBody, params="search", errors=(400, 404, 503))
def search():
    """Search by text (`q`), like an image (`similar`), by a query vector token (`vec`), or browse. Further
    parts make a compound query: `q` again, `not`, `like`, `unlike`, `not_vec`, each repeatable and weighted
    by a trailing `^number`; the query vector is the normalised weighted sum (negative parts subtract)."""
    return jsonify(result_to_json(search_service().search(_parse(request_params(request))), app_settings()))


@api.post("/search")
@documented("Search with a compound query given as JSON", response=schemas.SearchResultBody, body="compound",
            errors=(400, 404, 413, 503))
def search_compound():
    """A compound query as JSON: `parts`, each a text, an indexed image (`image`: its id) or an uploaded
    image (`image_base64`), with an optional `weight` and `negative`; beside them any GET parameter."""
    params, uploads = compound_from_json(request.get_json(silent=True), app_settings().max_upload_bytes)
    service = search_service()
    for data, weight in uploads:
        vector, _ = service.encode_image_bytes(data)
        params.setdefault("vec" if weight > 0 else "not_vec", []).append(
            with_weight(encode_vector(vector), abs(weight)))
    return jsonify(result_to_json(service.search(_parse(params)), app_settings()))


@api.post("/search/image")
@documented("Search with an image", response=schemas.SearchResultBody, params="paging", body="upload",
            errors=(400, 413, 503))
def search_image():
    """Search with an uploaded image: multipart field `image`, or JSON `{"image_base64": ...}`."""
    data, params = upload_from_request(request, app_settings().max_upload_bytes)
    for name in ("q", "similar", "vec"):
        if params.get(name):
            raise QueryError(f"an image search takes no {name}")
    return jsonify(result_to_json(search_service().search(_parse(params), image=data), app_settings()))


@api.get("/similar/<image_id>")
@documented("Images most like an indexed image (itself left out)", response=schemas.SearchResultBody,
            params="paging", errors=(400, 404, 503))
def similar(image_id: str):
    """Images most like an indexed one (itself left out), with the same filters and paging."""
    params = request_params(request)
    params["similar"] = [image_id]
    return jsonify(result_to_json(search_service().search(_parse(params)), app_settings()))


@api.get("/images/<image_id>")
@documented("One image's document (without its vector) and links", response=schemas.ImageDocumentBody,
            errors=(400, 404, 503))
def image(image_id: str):
    """One image's document, without its vector."""
    return jsonify(document_to_json(image_id, search_service().get_image(image_id), app_settings()))


@api.get("/facets")
@documented("Facet counts for the filter panel", response=schemas.FacetsBody, params="filters",
            errors=(400, 503))
def facets():
    """Facet counts for the filter panel, under the given filters."""
    return jsonify(search_service().facets(parse_filters(request_params(request), field_registry())))


@api.get("/duplicates")
@documented("Near-duplicate groups, largest first", response=schemas.DuplicatesBody, params="duplicates",
            errors=(400, 503))
def duplicates():
    """A page of near-duplicate groups: each with its members, the representative first, and each member's
    similarity to it. Groups are made by `imgsearch duplicates` and by ingest."""
    page = _duplicates().groups(page=whole_number(request.args.get("page"), "page", 1),
                                size=whole_number(request.args.get("size"), "size", 20))
    return jsonify(duplicates_to_json(page, app_settings()))


def _duplicates():
    from es_search.duplicates.service import DuplicateFinder

    return DuplicateFinder(search_service().es, app_settings())


@api.get("/health")
@documented("Whether Elasticsearch answers and the index exists", response=schemas.HealthBody, errors=(503,))
def health():
    """200 when Elasticsearch answers and the index exists; 503 with the reason otherwise."""
    report = search_service().health()
    return jsonify(report), 200 if report["ok"] else 503


@api.get("/openapi.json")
@documented("This description", response=None)
def openapi():
    """This API described in OpenAPI 3.1."""
    return jsonify(openapi_spec(current_app, app_settings(), field_registry()))
