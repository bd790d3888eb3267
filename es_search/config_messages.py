"""pydantic's validation errors, worded for the person who set the environment variables.

In: a `ValidationError` from building `Settings`. Out: one line per problem, each naming the variable
(IMGSEARCH_HNSW_M, ES_URL) rather than the field, with what is wrong and the value given. Kept apart from
config.py so the model there reads as declarations; this module knows nothing of the fields themselves
beyond what it is handed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, get_args

from pydantic import SecretStr, ValidationError
from pydantic.fields import FieldInfo

# The error type config.py raises for settings that are fine alone but disagree with each other.
CONFLICT_ERROR = "settings_conflict"

_NOT_A = {
    "int_parsing": "int", "int_from_float": "int", "int_type": "int",
    "float_parsing": "float", "float_type": "float", "finite_number": "finite float",
    "bool_parsing": "bool (true/false, yes/no, on/off, 1/0)", "bool_type": "bool",
    "path_type": "path", "string_type": "string",
}
_RANGE_ERRORS = frozenset({"greater_than_equal", "less_than_equal", "greater_than", "less_than"})


def describe_errors(exc: ValidationError, fields: Mapping[str, FieldInfo],
                    env_name_of: Callable[[str], str]) -> list[str]:
    """One line per problem in `exc`; `fields` and `env_name_of` say how each field is bounded and named."""
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        if error["type"] == CONFLICT_ERROR:
            lines.extend(error["ctx"]["problems"])
            continue
        key = str(error["loc"][0]) if error["loc"] else ""
        field_name = _field_for(key, fields)
        if field_name is None:
            lines.append(f"unknown setting {key}" if error["type"] == "extra_forbidden" else error["msg"])
            continue
        lines.append(_describe_one(error, env_name_of(field_name), fields[field_name]))
    return lines


def is_secret(info: FieldInfo) -> bool:
    """Whether the field holds a secret, whose value is never echoed back (nor a typo of it, into a log)."""
    return info.annotation is SecretStr or SecretStr in get_args(info.annotation)


def _field_for(key: str, fields: Mapping[str, FieldInfo]) -> str | None:
    """The field an error's location names: its own name, or one of its validation aliases (ES_URL)."""
    if key in fields:
        return key
    for name, info in fields.items():
        alias = info.validation_alias
        choices = getattr(alias, "choices", [alias])
        if key in choices:
            return name
    return None


def _describe_one(error: Mapping[str, Any], env: str, info: FieldInfo) -> str:
    kind = error["type"]
    given = "'***'" if is_secret(info) else repr(error.get("input"))
    if kind in _NOT_A:
        return f"{env}={given} is not a valid {_NOT_A[kind]}"
    if kind == "literal_error":
        return f"{env} must be one of {error['ctx']['expected']}, got {given}"
    if kind in _RANGE_ERRORS:
        return f"{env} {_range_text(info)}, got {given}"
    if kind == "value_error":
        # Our own validators word the reason to follow the variable's name, value included.
        return f"{env} {error['ctx']['error']}"
    return f"{env}: {error['msg']}, got {given}"


def _range_text(info: FieldInfo) -> str:
    bounds: dict[str, Any] = {}
    for constraint in info.metadata:
        for kind in ("ge", "le", "gt", "lt"):
            if getattr(constraint, kind, None) is not None:
                bounds[kind] = getattr(constraint, kind)
    low, high = bounds.get("ge"), bounds.get("le")
    if (low, high) == (1, 65535):
        return "must be a port number (1 to 65535)"
    if low is not None and high is not None:
        return f"must be between {low} and {high}"
    if low is not None:
        return f"must be at least {low}"
    if "gt" in bounds:
        return f"must be more than {bounds['gt']}"
    if high is not None:
        return f"must be at most {high}"
    return f"must be less than {bounds.get('lt')}"
