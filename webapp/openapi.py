"""The OpenAPI 3.1 document, generated: the routes come from the app's URL map, their parameters and bodies from
the very models that parse them (es_search/search/contract.py, webapp/write_schemas.py), their answers from the
models every answer is serialised through (webapp/schemas.py).

A view joins the document with `@documented(...)`; a test checks every /api route is in it, and schemathesis
checks that the app keeps to it (tests/webapp/test_contract.py). Every answer a route can give is listed:
401 and 403 where a key is needed, 413 where a body can be too large, 405 (with `Allow`) anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from pydantic import BaseModel

from es_search import __version__
from es_search.config import Settings
from es_search.fields import FieldRegistry
from es_search.ids import ID_PATTERN, MAX_ID_CHARS
from es_search.search import contract
from es_search.search.recommend import recommend_model
from es_search.search.studies import STUDY_UID_PATTERN
from es_search.watchlists.lists import NAME_PATTERN as WATCHLIST_NAME
from webapp import schemas, write_schemas
from webapp.overload import IMAGE_ENDPOINTS, MUTATING

ERROR_REASONS = {
    400: "Bad input; the message names the parameter.",
    401: "No API key, or one that is unknown or revoked: send `Authorization: ApiKey <key>`.",
    403: "The API key's scope does not allow this.",
    404: "No image with that id.",
    409: "A conflict with what is stored: an image with that id exists already (create), or the image is not "
         "under review (release).",
    413: "The body or an image in it is larger than the limit.",
    422: "The image was understood but not indexed: it matches a watchlist whose policy is refuse (code "
         "watchlist_match, the message names the list), or the model could not encode it (encode_failed).",
    429: "Too many expensive requests (image searches, uploads, writes) from this client (code rate_limited): "
         "come back after the Retry-After header's seconds.",
    503: "Elasticsearch, the index or a model is unavailable, the index refuses writes (code index_read_only: a "
         "write block is set on it), or too many requests wait for the image model (code overloaded, with "
         "Retry-After).",
}
REF = "#/components/schemas/{model}"
ID_SCHEMA = {"type": "string", "pattern": ID_PATTERN, "maxLength": MAX_ID_CHARS}
PATH_PARAMETERS = {  # name → (description, schema)
    "image_id": ("The image's id.", ID_SCHEMA),
    "study_uid": ("The study's Study Instance UID.", {"type": "string", "pattern": STUDY_UID_PATTERN}),
    "person_id": ("The person's id.", ID_SCHEMA),
    "face": ("The face's number in the image's `faces`, from 0.", {"type": "integer", "minimum": 0}),
    "watchlist_name": ("The watchlist's name.", {"type": "string", "pattern": f"^{WATCHLIST_NAME}$"}),
    "reference": ("A reference image's sha256.", {"type": "string", "pattern": "^[0-9a-f]{64}$"}),
}
SCHEME = "ApiKey"


def documented(summary: str, *, response: type[BaseModel] | None, params: str | None = None,
               body: str | None = None, errors: tuple[int, ...] = (), created: bool = False,
               description: str = "") -> Callable:
    """Mark a view for the OpenAPI document. `params` names its query model, `body` its body model (see
    `_models`); "bulk" is the write API's NDJSON. `errors` are the statuses it answers besides 200 (and 201
    when `created`); the key's 401 and 403 and the body's 413 are added where they apply."""
    def mark(view):
        view.openapi = {"summary": summary, "response": response, "params": params, "body": body,
                        "errors": errors, "created": created, "description": description or (view.__doc__ or "").strip()}
        return view
    return mark


def _models(settings: Settings, registry: FieldRegistry) -> dict:
    return {"search": contract.search_model(settings, registry),
            "paging": contract.paging_model(settings, registry),
            "filters": contract.filters_model(registry),
            "duplicates": contract.duplicates_model(),
            "upload": contract.image_search_model(settings, registry),
            "compound": contract.compound_model(settings, registry),
            "refresh": write_schemas.refresh_model(),
            "image_write": write_schemas.image_write_model(settings, registry),
            "patch": write_schemas.patch_model(registry),
            "people": contract.people_model(),
            "person_name": write_schemas.PersonNameBody,
            "person_merge": write_schemas.PersonMergeBody,
            "person_split": write_schemas.PersonSplitBody,
            "recommend": recommend_model(settings, registry),
            "recommend_body": recommend_model(settings, registry, text=False),
            "watchlist": write_schemas.WatchlistBody,
            "review": write_schemas.ReviewParams}


def _schema(model: type[BaseModel], components: dict, mode: str = "validation") -> dict:
    schema = model.model_json_schema(ref_template=REF, mode=mode, by_alias=True)
    components.update(schema.pop("$defs", {}))
    return schema


def _query_parameters(model: type[BaseModel], components: dict) -> list[dict]:
    schema = _schema(model, components)
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema["properties"].items():
        description = prop.pop("description", "")
        prop.pop("title", None)
        parameter = {"name": name, "in": "query", "required": name in required, "description": description,
                     "schema": prop}
        if _is_array(prop):
            parameter.update(style="form", explode=True)  # ?tag=a&tag=b
        parameters.append(parameter)
    return parameters


def _is_array(schema: dict) -> bool:
    return schema.get("type") == "array" or any(_is_array(alt) for alt in schema.get("anyOf", []))


def _error(status: int) -> dict:
    answer = {"description": ERROR_REASONS[status],
              "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}}}
    if status == 401:
        answer["headers"] = {"WWW-Authenticate": {"description": "The scheme that is accepted: ApiKey.",
                                                  "schema": {"type": "string"}}}
    return answer


def _responses(meta: dict, components: dict, secured: bool, has_body: bool, limited: bool = False) -> dict:
    ok: dict = {"description": "OK"}
    if meta["response"] is not None:
        components[meta["response"].__name__] = _schema(meta["response"], components, mode="serialization")
        ok["content"] = {"application/json": {"schema": {"$ref": REF.format(model=meta["response"].__name__)}}}
    else:
        ok["content"] = {"application/json": {"schema": {"type": "object"}}}
    answers = {"200": ok}
    if meta["created"]:
        answers["201"] = {**ok, "description": "Created"}
    statuses = set(meta["errors"]) | ({401, 403} if secured else set()) | ({413} if has_body else set()) | (
        {429, 503} if limited else set())
    for status in sorted(statuses):
        answers[str(status)] = _error(status)
    return answers


def _body(kind: str, models: dict, components: dict, registry: FieldRegistry) -> dict:
    if kind == "bulk":
        return {"required": True, "content": {"application/x-ndjson": {"schema": {
            "type": "string", "description": "Action lines ({\"index\"|\"create\"|\"update\"|\"delete\": "
            "{\"_id\": ...}}), each but delete followed by its source line (ImageWriteBody, or {\"doc\": "
            "WritableFields})."}}}}
    content = {"application/json": {"schema": _schema(models[kind], components)}}
    image = {"type": "string", "format": "binary"}
    image_types = {"image": {"contentType": "image/jpeg, image/png, image/webp, image/gif"}}
    if kind == "upload":  # the search parameters are query parameters beside the file
        content["multipart/form-data"] = {"schema": {
            "type": "object", "required": ["image"], "properties": {"image": image}}, "encoding": image_types}
    if kind == "image_write":
        fields = write_schemas.fields_schema(registry)
        content["multipart/form-data"] = {"schema": {
            "type": "object", "required": ["image"], "properties": {
                "image": image, "id": {"type": "string", "pattern": ID_PATTERN, "maxLength": MAX_ID_CHARS},
                "fields": fields}},
            "encoding": {**image_types, "fields": {"contentType": "application/json"}}}
    return {"required": True, "content": content}


def may_be_limited(endpoint: str, methods) -> bool:
    """Whether a route's requests can be expensive ones (webapp/overload.py): 429 past a client's rate."""
    return (endpoint in IMAGE_ENDPOINTS or endpoint in ("api.search_compound", "api.similar")
            or (endpoint.startswith("writes.") and bool(set(methods) & MUTATING)))


def openapi_spec(app: Flask, settings: Settings, registry: FieldRegistry) -> dict:
    """The description of every documented /api route."""
    models = _models(settings, registry)
    components: dict = {"ErrorBody": _schema(schemas.ErrorBody, {}, mode="serialization")}
    paths: dict = {}
    for rule in app.url_map.iter_rules():
        meta = getattr(app.view_functions[rule.endpoint], "openapi", None)
        if meta is None or not rule.rule.startswith("/api/"):
            continue
        secured = rule.endpoint.startswith("writes.") or settings.require_read_key
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        operation: dict = {"summary": meta["summary"], "description": meta["description"],
                           "responses": _responses(meta, components, secured, bool(meta["body"]),
                                                   limited=may_be_limited(rule.endpoint, rule.methods)),
                           "security": [{SCHEME: []}] if secured else []}
        parameters = [{"name": name, "in": "path", "required": True, "description": PATH_PARAMETERS[name][0],
                       "schema": PATH_PARAMETERS[name][1]} for name in rule.arguments]
        if meta["params"]:
            parameters += _query_parameters(models[meta["params"]], components)
        if parameters:
            operation["parameters"] = parameters
        if meta["body"]:
            operation["requestBody"] = _body(meta["body"], models, components, registry)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Image search API", "version": __version__,
                 "description": "Multilingual text-to-image and image-to-image search over Elasticsearch. "
                                "`score` ranks: the cosine similarity to the query in semantic mode (-1..1), "
                                "the reciprocal-rank-fusion score in hybrid mode. `similarity` is always the "
                                "cosine similarity when known. Filters come from the field registry: a terms "
                                "field takes `name=value` (repeatable), a range field `name=from..to`. "
                                "A compound query sums weighted parts: `q`, `not`, `like`, `unlike`, `vec`, "
                                "`not_vec` (repeatable, `value^weight`), or POST /api/search with JSON `parts`. "
                                "Results are split by a cutoff relative to the query's own scores: "
                                "`good_match` on each hit, `cutoff` and `no_good_match` on the page. Writes need "
                                "an API key: `Authorization: ApiKey <key>`. Custom formats: `vector-token` (a "
                                "query vector as an image search's `query.vector` gives it), `base64-image` (an "
                                "image file in base64), `image-url` (an http(s):// or s3:// address of an image), "
                                "`integer-range`, `number-range` and `date-range` (from..to, either end optional)."},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {SCHEME: {
            "type": "apiKey", "in": "header", "name": "Authorization",
            "description": "`ApiKey <key>`, a key made by `imgsearch apikey create` (read or write scope)."}}},
    }
