"""The one conversion of a field's value: text or JSON in, the value the index stores out, for every field type.

Records files (CSV cells, JSON Lines values), the write API's fields, request filters and the command line's
options all call `convert_value`, so a value means the same wherever it comes from:
- keyword: stripped text, upper-cased when the field says `case: upper`, at most MAX_KEYWORD_CHARS;
- text: as given, at most MAX_TEXT_CHARS;
- integer, long, float, double: within the type's range and the field's `min`/`max`; whole numbers stay whole;
- boolean: true or false, or one of BOOLEAN_WORDS when given as text;
Text is taken as it is (no white space around a number, a boolean word or a date), as HTTP clients and
OpenAPI tools expect; a records file trims its cells where it reads them.
- date: RFC 3339, a day (2024-01-31) or a moment with its offset (2024-01-31T12:00:00Z). A moment without
  an offset is refused: Elasticsearch would read it as UTC, which is rarely what a catalogue meant.

`strict`: the value came as JSON from a client that declared its types (the write API): a number must be a
JSON number and a boolean a JSON boolean. Text sources (CSV cells, query strings, forms) and records files
give text, which is parsed. A problem is a `ValueProblem` (a ValueError) whose message says what was wanted;
each caller names the column, field or parameter. Pure.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, timedelta, timezone

MAX_KEYWORD_CHARS = 1024  # far below Lucene's 32 KB term limit, in any script
MAX_TEXT_CHARS = 32_000
MAX_LIST_VALUES = 100
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "on", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "off", "0"})
BOOLEAN_WORDS = TRUE_WORDS | FALSE_WORDS
TYPE_RANGES = {
    "integer": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
    "float": (-3.4028234663852886e38, 3.4028234663852886e38),
    "double": (-1.7976931348623157e308, 1.7976931348623157e308),
}
WHOLE_TYPES = ("integer", "long")
SETTABLE_TYPES = ("keyword", "text", *TYPE_RANGES, "boolean", "date")
INTEGER_TEXT = re.compile(r"[+-]?\d+")
NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
DATE_TEXT = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
MOMENT_TEXT = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))")
DATE_PHRASE = "an RFC 3339 date (2024-01-31) or date-time with its offset (2024-01-31T12:00:00Z)"

Value = str | int | float | bool | date | datetime
# What a strict (JSON) value of each type must be: numbers are JSON numbers, booleans JSON booleans.
_JSON_TYPES = {"keyword": str, "text": str, "boolean": bool, "date": str, **dict.fromkeys(TYPE_RANGES, (int, float))}


class ValueProblem(ValueError):
    """A value that does not convert; the message says what was expected, not where (the caller knows)."""


def convert_value(spec, raw: object, *, strict: bool = False) -> Value | list[Value] | None:
    """`raw` as the value `spec`'s field stores; None for an empty value (it clears the field).

    `spec` is a FieldSpec (es_search.fields): its `type`, `case`, `min` and `max` are used. A list gives many
    values, each converted (empty ones dropped).
    """
    if isinstance(raw, list):
        if len(raw) > MAX_LIST_VALUES:
            raise ValueProblem(f"at most {MAX_LIST_VALUES} values, got {len(raw)}")
        if strict and any(item is None or isinstance(item, list) for item in raw):
            raise ValueProblem("a list holds values, not null or other lists")
        values = [convert_value(spec, item, strict=strict) for item in raw]
        values = [value for value in values if value is not None]
        return values or None
    kind = spec.type
    if kind not in SETTABLE_TYPES:
        raise ValueProblem(f"a {kind} field cannot be set")
    if strict and raw is not None and not isinstance(raw, _JSON_TYPES[kind]):
        raise ValueProblem(f"expected {type_phrase(kind)}, got {_shown(raw)}")
    if strict and kind == "date" and isinstance(raw, str) and not raw.strip():
        raise ValueProblem(f"expected {DATE_PHRASE}, got an empty text (null clears the field)")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, (dict, tuple, set, bytes)):
        raise ValueProblem(f"expected {type_phrase(kind)}, got {_shown(raw)}")
    if kind in ("keyword", "text"):
        return _text(spec, raw)
    if kind == "boolean":
        return _boolean(raw)
    if kind == "date":
        return parse_date(raw)
    return _number(spec, raw)


def type_phrase(kind: str) -> str:
    """What a value of the type looks like, for messages."""
    return {"keyword": "text", "text": "text", "boolean": "true or false", "date": DATE_PHRASE,
            "integer": "a whole number", "long": "a whole number"}.get(kind, "a number")


def stored(value):
    """A converted value as JSON stores it: days in ISO 8601, moments too but in UTC (Elasticsearch, like
    Java, takes offsets up to ±18:00 only, RFC 3339 up to ±23:59)."""
    if isinstance(value, list):
        return [stored(item) for item in value]
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def now_text() -> str:
    """This moment in UTC, ISO 8601 to the millisecond: when a stored thing was made or changed."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def utc_text(moment: datetime) -> str:
    """An aware moment in UTC, ISO 8601; in epoch milliseconds when UTC falls outside years 1 to 9999."""
    try:
        return moment.astimezone(timezone.utc).isoformat()
    except OverflowError:
        return str(int(moment.timestamp() * 1000))


def _text(spec, raw: object) -> str:
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise ValueProblem(f"expected text, got {_shown(raw)}")
    text = str(raw)
    if not is_utf8(text):
        raise ValueProblem("the text holds a lone surrogate (an unpaired \\ud800-\\udfff escape), not Unicode text")
    if spec.type == "keyword":
        text = text.strip()
        if len(text) > MAX_KEYWORD_CHARS:
            raise ValueProblem(f"at most {MAX_KEYWORD_CHARS} characters, got {len(text)}")
        return text.upper() if spec.case == "upper" else text
    if len(text) > MAX_TEXT_CHARS:
        raise ValueProblem(f"at most {MAX_TEXT_CHARS} characters, got {len(text)}")
    return text


def _boolean(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        word = raw.lower()
        if word in BOOLEAN_WORDS:
            return word in TRUE_WORDS
    raise ValueProblem(f"expected true or false, got {_shown(raw)}")


def _number(spec, raw: object) -> int | float:
    kind = spec.type
    whole = kind in WHOLE_TYPES
    if isinstance(raw, bool):
        raise ValueProblem(f"expected {type_phrase(kind)}, got {_shown(raw)}")
    if isinstance(raw, str):
        if not (INTEGER_TEXT if whole else NUMBER_TEXT).fullmatch(raw):
            raise ValueProblem(f"expected {type_phrase(kind)}, got {raw!r}")
        value: int | float = int(raw) if whole else float(raw)
    elif isinstance(raw, float) and whole:
        if not raw.is_integer():
            raise ValueProblem(f"expected a whole number, got {raw!r}")
        value = int(raw)
    elif isinstance(raw, (int, float)):
        value = raw if whole else float(raw)
    else:
        raise ValueProblem(f"expected {type_phrase(kind)}, got {_shown(raw)}")
    if not math.isfinite(value):
        raise ValueProblem(f"expected a finite number, got {raw!r}")
    low, high = TYPE_RANGES[kind]
    if not low <= value <= high:
        raise ValueProblem(f"{value} is out of range for a {kind} field")
    if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
        raise ValueProblem(f"must be between {_bound(spec.min)} and {_bound(spec.max)}, got {_bound(value)}")
    return value


def parse_date(raw: object) -> date | datetime:
    """An RFC 3339 day (a `date`) or moment with its offset (an aware `datetime`); ValueProblem otherwise."""
    text = raw if isinstance(raw, str) else None
    try:
        if text is not None and (day := DATE_TEXT.fullmatch(text)):
            return date(*(int(part) for part in day.groups()))
        if text is not None and (moment := MOMENT_TEXT.fullmatch(text)):
            year, month, day_, hour, minute, second, fraction, zulu, sign, off_h, off_m = moment.groups()
            offset = timedelta(0) if zulu else (1 if sign == "+" else -1) * timedelta(hours=int(off_h),
                                                                                        minutes=int(off_m))
            if abs(offset) >= timedelta(hours=24):
                raise ValueError(text)
            micro = int((fraction or "0")[:6].ljust(6, "0"))
            return datetime(int(year), int(month), int(day_), int(hour), int(minute), int(second), micro,
                            tzinfo=timezone(offset))
    except ValueError:
        pass
    raise ValueProblem(f"expected {DATE_PHRASE}, got {_shown(raw)}")


def day_start(value: date | datetime) -> datetime:
    """A value of a date field as a moment, so days and moments compare (a day is its first moment, UTC)."""
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)


def is_utf8(text: str) -> bool:
    """False for text holding lone surrogates: JSON escapes can carry them, no file, URL or index can."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _bound(value: float | None) -> str:
    return "any" if value is None else f"{value:g}"


def _shown(raw: object) -> str:
    try:
        return json.dumps(raw, ensure_ascii=False)[:80]
    except (TypeError, ValueError):
        return repr(raw)[:80]
