"""The API described in OpenAPI 3.1, served at /api/openapi.json (a test checks it names every API route)."""

from __future__ import annotations

from es_search import __version__
from es_search.config import Settings
from es_search.query import FACET_FIELDS, MAX_FILTER_VALUES, MAX_TEXT_CHARS, SEARCH_MODES


def _param(name: str, description: str, schema: dict, where: str = "query", required: bool = False) -> dict:
    return {"name": name, "in": where, "required": required, "description": description, "schema": schema}


def _filter_params() -> list[dict]:
    labels = {"type": "array", "items": {"type": "string"}, "maxItems": MAX_FILTER_VALUES}
    return [
        _param("category", "Only these categories (repeat the parameter for several).", labels),
        _param("color", "Only these colour schemes: warm, cool, neutral.", labels),
        _param("tag", "Only images carrying one of these tags.", labels),
        _param("format", "Only these file formats (JPEG, PNG, ...).", labels),
        _param("date_from", "Taken on or after this day (the file's modification date for photos without "
                            "a capture date).", {"type": "string", "format": "date"}),
        _param("date_to", "Taken on or before this day.", {"type": "string", "format": "date"}),
        _param("min_width", "At least this many pixels wide.", {"type": "integer", "minimum": 0}),
        _param("min_height", "At least this many pixels high.", {"type": "integer", "minimum": 0}),
    ]


def _paging_params(settings: Settings) -> list[dict]:
    return [
        _param("page", f"Page number from 1; page × size may not pass {settings.max_result_window}.",
               {"type": "integer", "minimum": 1, "default": 1}),
        _param("size", "Results per page.", {"type": "integer", "minimum": 1, "maximum": settings.max_page_size,
                                             "default": settings.default_page_size}),
        _param("min_similarity", "Leave out images whose cosine similarity to the query is below this "
                                 "(in hybrid mode it applies to the vector ranking only).",
               {"type": "number", "minimum": -1, "maximum": 1}),
        _param("facets", "Also return facet counts and the number of images passing the filters.",
               {"type": "boolean", "default": False}),
    ]


def _responses(ok: str, schema_ref: str, *errors: int) -> dict:
    reasons = {400: "Bad input; the message names the parameter.", 404: "No image with that id.",
               413: "The upload is larger than the limit.", 503: "Elasticsearch, the index or a model is unavailable."}
    responses = {"200": {"description": ok, "content": {"application/json": {"schema": {"$ref": schema_ref}}}}}
    for status in errors:
        responses[str(status)] = {"description": reasons[status], "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return responses


def openapi_spec(settings: Settings) -> dict:
    """The description of every /api route, with limits taken from `settings`."""
    search_result = "#/components/schemas/SearchResult"
    image_id = _param("image_id", "The image's id: the sha256 of its content.", {"type": "string"}, "path", True)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Image search API", "version": __version__,
                 "description": "Multilingual text-to-image and image-to-image search over Elasticsearch. "
                                "`score` ranks: the cosine similarity to the query in semantic mode (-1..1), "
                                "the reciprocal-rank-fusion score in hybrid mode. `similarity` is always the "
                                "cosine similarity when known."},
        "paths": {
            "/api/search": {"get": {
                "summary": "Search by text, like an indexed image, or by a query vector token; browse without any",
                "parameters": [
                    _param("q", "What to look for, in any language.", {"type": "string", "maxLength": MAX_TEXT_CHARS}),
                    _param("similar", "Images like this indexed image (its id); it is left out of the results.",
                           {"type": "string"}),
                    _param("vec", "A query vector token as returned in `query.vector` by an image search, to page "
                                  "it without a new upload.", {"type": "string"}),
                    _param("mode", "semantic (vectors only) or hybrid (vectors fused with BM25 keyword search over "
                                   "title, tags, caption and file name; text queries only).",
                           {"type": "string", "enum": list(SEARCH_MODES), "default": "semantic"}),
                    *_paging_params(settings), *_filter_params()],
                "responses": _responses("A page of results.", search_result, 400, 404, 503)}},
            "/api/search/image": {"post": {
                "summary": "Search with an image",
                "description": f"Send the image as multipart field `image`, or as JSON `image_base64` (a data: URL "
                               f"works too). At most {settings.max_upload_bytes} bytes. Paging and filter "
                               "parameters go in the query string, the form, or the JSON object.",
                "parameters": [*_paging_params(settings), *_filter_params()],
                "requestBody": {"required": True, "content": {
                    "multipart/form-data": {"schema": {"type": "object", "required": ["image"], "properties": {
                        "image": {"type": "string", "format": "binary"}}}},
                    "application/json": {"schema": {"type": "object", "required": ["image_base64"], "properties": {
                        "image_base64": {"type": "string", "contentEncoding": "base64"},
                        "page": {"type": "integer"}, "size": {"type": "integer"},
                        **{name: {"type": "array", "items": {"type": "string"}} for name in FACET_FIELDS}}}}}},
                "responses": _responses("A page of results; `query.vector` pages it via GET /api/search?vec=.",
                                        search_result, 400, 413, 503)}},
            "/api/similar/{image_id}": {"get": {
                "summary": "Images most like an indexed image (itself left out)",
                "parameters": [image_id, *_paging_params(settings), *_filter_params()],
                "responses": _responses("A page of results.", search_result, 400, 404, 503)}},
            "/api/images/{image_id}": {"get": {
                "summary": "One image's document (without its vector) and links",
                "parameters": [image_id],
                "responses": _responses("The document.", "#/components/schemas/ImageDocument", 400, 404, 503)}},
            "/api/facets": {"get": {
                "summary": "Facet counts for the filter panel",
                "description": "Counts over the whole collection under the other active filters.",
                "parameters": _filter_params(),
                "responses": _responses("Counts per facet value.", "#/components/schemas/Facets", 400, 503)}},
            "/api/health": {"get": {
                "summary": "Whether Elasticsearch answers and the index exists",
                "responses": {"200": {"description": "Ready.", "content": {"application/json": {"schema": {
                    "type": "object"}}}}, "503": {"description": "Not ready; the body says why."}}}},
            "/api/openapi.json": {"get": {
                "summary": "This description", "responses": {"200": {"description": "OpenAPI 3.1 document."}}}},
        },
        "components": {"schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                "status": {"type": "integer"}, "code": {"type": "string"}, "message": {"type": "string"}}}}},
            "Hit": {"type": "object", "properties": {
                "id": {"type": "string"}, "rank": {"type": "integer"},
                "score": {"type": ["number", "null"]}, "similarity": {"type": ["number", "null"]},
                "image": {"type": "object", "description": "The indexed document without its vector."},
                "links": {"type": "object"}}},
            "SearchResult": {"type": "object", "properties": {
                "query": {"type": "object"}, "page": {"type": "integer"}, "size": {"type": "integer"},
                "has_next": {"type": "boolean"}, "max_page": {"type": "integer"}, "took_ms": {"type": "number"},
                "total": {"type": "integer", "description": "Only when browsing."},
                "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
                "facets": {"$ref": "#/components/schemas/FacetCounts"}, "matching": {"type": "integer"}}},
            "ImageDocument": {"type": "object", "properties": {
                "id": {"type": "string"}, "image": {"type": "object"}, "links": {"type": "object"}}},
            "FacetCounts": {"type": "object", "additionalProperties": {"type": "array", "items": {
                "type": "object", "properties": {"value": {"type": "string"}, "count": {"type": "integer"},
                                                 "selected": {"type": "boolean"}}}}},
            "Facets": {"type": "object", "properties": {
                "facets": {"$ref": "#/components/schemas/FacetCounts"}, "matching": {"type": "integer"}}},
        }},
    }
