"""Reading a request through its contract model (es_search/search/contract.py): a query string or form as
text, a JSON body as typed JSON; the first problem as a QueryError that names the parameter. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ValidationError

from es_search.errors import QueryError, UploadRejected


def parse_query(model: type[BaseModel], params: Mapping[str, Sequence[str] | str], *,
                blank_is_absent: bool = False) -> BaseModel:
    """Query-string (or form) parameters through `model`: a list parameter takes every value, any other its
    one value (the same value repeated is fine; different ones are refused). `blank_is_absent`: an empty
    value is no value (an HTML form sends its empty fields); else it is read like any other, and refused
    where the contract does not allow it (an empty id, an empty number)."""
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        raw = params.get(key)
        values = [raw] if isinstance(raw, str) else list(raw or [])
        values = [value for value in values if value is not None and not (blank_is_absent and value == "")]
        if not values:
            continue
        if key in list_params(model):
            data[key] = values
        elif len(set(values)) > 1:
            raise QueryError(f"{key} was given {len(values)} different values; give it once")
        else:
            data[key] = values[0]
    return validated(model, data)


def parse_body(model: type[BaseModel], body: bytes | str) -> BaseModel:
    """A JSON body through `model`, parsed strictly (no lone surrogates, no duplicate-free guessing)."""
    try:
        return model.model_validate_json(body or b"null")
    except ValidationError as exc:
        kind = exc.errors(include_url=False)[0].get("type", "")
        if kind in ("json_invalid", "json_type", "model_type", "model_attributes_type"):
            raise UploadRejected("bad_json", describe(exc)) from None  # not the JSON object asked for
        raise QueryError(describe(exc)) from None


def validated(model: type[BaseModel], data: dict) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise QueryError(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """The first problem of a validation, naming the parameter, as a person reads it."""
    error = exc.errors(include_url=False)[0]
    # Union members appear in the location by their class names; a reader knows the fields only.
    where = ".".join(str(part) for part in error.get("loc", ())
                     if not isinstance(part, int) and not str(part)[:1].isupper()) or "the body"
    kind, context = error.get("type", ""), error.get("ctx") or {}
    phrase = {
        "greater_than_equal": f"must be at least {context.get('ge')}",
        "less_than_equal": f"must be at most {context.get('le')}",
        "greater_than": f"must be above {context.get('gt')}",
        "too_long": f"takes at most {context.get('max_length')} values",
        "string_too_long": f"is too long (at most {context.get('max_length')} characters)",
        "string_pattern_mismatch": "breaks the rule for its form",
        "literal_error": f"must be one of {context.get('expected', '')}",
        "extra_forbidden": "is not part of this request",
        "missing": "is required",
        "json_invalid": f"is not valid JSON ({context.get('error', '')})",
        "model_type": "must be a JSON object",
        "list_type": "must be a list",
        "string_type": "must be a string",
        "bool_type": "must be true or false",
        "int_type": "must be a whole number",
        "float_type": "must be a number",
        "value_error": str(error.get("msg", "")).removeprefix("Value error, "),
    }.get(kind) or str(error.get("msg", "is not valid")).lower()
    # The converter says what it expected ("expected a number, got 'x'"); the rest reads after the name.
    return f"{where}: {phrase}" if phrase.startswith("expected") else f"{where} {phrase}"


@lru_cache(maxsize=256)
def list_params(model: type[BaseModel]) -> frozenset[str]:
    """The parameters of `model` that take several values (arrays in its schema): how a query string is read."""
    properties = model.model_json_schema().get("properties", {})

    def is_array(schema: dict) -> bool:
        return schema.get("type") == "array" or any(is_array(alt) for alt in schema.get("anyOf", []))

    return frozenset(name for name, schema in properties.items() if is_array(schema))
