"""The OpenAPI 3.1 document, generated: the routes come from the app's URL map, their parameters, bodies and
answers from the models of webapp/schemas.py (themselves built from the settings and the field registry).

A view joins the document with `@documented(...)`; a test checks every /api route is in it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask

from es_search import __version__
from es_search.config import Settings
from es_search.fields import FieldRegistry
from webapp import schemas, write_schemas

ERROR_REASONS = {400: "Bad input; the message names the parameter.", 404: "No image with that id.",
                 413: "The upload is larger than the limit.",
                 503: "Elasticsearch, the index or a model is unavailable, or the index refuses writes "
                      "(code index_read_only: a write block is set on it)."}
REF = "#/components/schemas/{model}"


def documented(summary: str, *, response: type | None, params: str | None = None, body: str | None = None,
               errors: tuple[int, ...] = (), description: str = "") -> Callable:
    """Mark a view for the OpenAPI document. `params` and `body` name a model factory of webapp/schemas.py:
    "search", "paging" or "filters" for query parameters, "upload" for the JSON image body, "compound" for
    POST /api/search's JSON parts; for the write API "refresh", "image_write", "patch" and "bulk" (NDJSON)."""
    def mark(view):
        view.openapi = {"summary": summary, "response": response, "params": params, "body": body,
                        "errors": errors, "description": description or (view.__doc__ or "").strip()}
        return view
    return mark


def _param_models(settings: Settings, registry: FieldRegistry) -> dict:
    return {"search": schemas.search_params_model(settings, registry),
            "paging": schemas.paging_params_model(settings, registry),
            "filters": schemas.filters_params_model(registry),
            "upload": schemas.upload_body_model(settings, registry),
            "compound": schemas.compound_body_model(settings, registry),
            "duplicates": schemas.duplicates_params_model(settings, registry),
            "refresh": write_schemas.refresh_params_model(settings, registry),
            "image_write": write_schemas.image_write_model(settings, registry),
            "patch": write_schemas.patch_model(settings, registry)}


def _query_parameters(model) -> list[dict]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema["properties"].items():
        description = prop.pop("description", "")
        prop.pop("title", None)
        parameters.append({"name": name, "in": "query", "required": name in required,
                           "description": description, "schema": prop})
    return parameters


def _responses(response, errors: tuple[int, ...]) -> dict:
    ok = {"description": "OK"}
    if response is not None:
        ok["content"] = {"application/json": {"schema": {"$ref": REF.format(model=response.__name__)}}}
    answers = {"200": ok}
    for status in errors:
        answers[str(status)] = {"description": ERROR_REASONS[status], "content": {"application/json": {
            "schema": {"$ref": REF.format(model="ErrorBody")}}}}
    return answers


def openapi_spec(app: Flask, settings: Settings, registry: FieldRegistry) -> dict:
    """The description of every documented /api route."""
    models = _param_models(settings, registry)
    components: dict = {}
    for model in schemas.RESPONSE_MODELS + write_schemas.RESPONSE_MODELS:
        schema = model.model_json_schema(ref_template=REF)
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    paths: dict = {}
    for rule in app.url_map.iter_rules():
        meta = getattr(app.view_functions[rule.endpoint], "openapi", None)
        if meta is None or not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        operation: dict = {"summary": meta["summary"], "description": meta["description"],
                           "responses": _responses(meta["response"], meta["errors"])}
        parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"},
                       "description": "The image's id."} for name in rule.arguments]
        if meta["params"]:
            parameters += _query_parameters(models[meta["params"]])
        if parameters:
            operation["parameters"] = parameters
        if meta["body"] == "bulk":
            operation["requestBody"] = {"required": True, "content": {"application/x-ndjson": {"schema": {
                "type": "string", "description": "Action lines ({\"index\"|\"create\"|\"update\"|\"delete\": "
                "{\"_id\": ...}}), each but delete followed by its source line (ImageWriteBody, or {\"doc\": "
                "WritableFields})."}}}}
        elif meta["body"]:
            body_schema = models[meta["body"]].model_json_schema(ref_template=REF)
            components.update(body_schema.pop("$defs", {}))
            content = {"application/json": {"schema": body_schema}}
            if meta["body"] == "upload":
                content["multipart/form-data"] = {"schema": {"type": "object", "required": ["image"], "properties": {
                    "image": {"type": "string", "format": "binary"}}}}
            if meta["body"] == "image_write":
                content["multipart/form-data"] = {"schema": {"type": "object", "required": ["image"], "properties": {
                    "image": {"type": "string", "format": "binary"}, "id": {"type": "string"},
                    "fields": {"type": "string", "description": "WritableFields as JSON text; or each field "
                                                                "as a form field of its own name"}}}}
                operation["responses"]["201"] = {**operation["responses"]["200"], "description": "Created"}
            operation["requestBody"] = {"required": True, "content": content}
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
                                "`good_match` on each hit, `cutoff` and `no_good_match` on the page."},
        "paths": paths,
        "components": {"schemas": components},
    }
