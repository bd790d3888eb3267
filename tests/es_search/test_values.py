"""The one converter of field values: the same rules for records, writes, filters and the command line."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from es_search.fields import FieldSpec
from es_search.values import BOOLEAN_WORDS, MAX_KEYWORD_CHARS, ValueProblem, convert_value, stored


def field(kind: str, **extra) -> FieldSpec:
    return FieldSpec(name="f", type=kind, label={"en": "f"}, **extra)


@pytest.mark.parametrize(("kind", "raw", "value"), [
    ("keyword", " Acme ", "Acme"),
    ("keyword", 12, "12"),
    ("keyword", ["a", "", "b"], ["a", "b"]),
    ("text", " Red, with dots ", " Red, with dots "),
    ("float", "19.90", 19.9),
    ("float", 20, 20.0),
    ("float", "1e3", 1000.0),
    ("integer", "12", 12),
    ("integer", 12.0, 12),
    ("boolean", "Yes", True),
    ("boolean", "0", False),
    ("boolean", "off", False),
    ("boolean", False, False),
    ("date", "2024-01-31", date(2024, 1, 31)),
    ("date", "2024-01-31T10:00:00Z", datetime(2024, 1, 31, 10, tzinfo=timezone.utc)),
    ("date", "2024-01-31t10:00:00.5+02:00", datetime(2024, 1, 31, 10, 0, 0, 500000,
                                                     tzinfo=timezone(timedelta(hours=2)))),
    ("float", "", None),
    ("keyword", None, None),
])
def test_values_convert_to_the_declared_type(kind, raw, value):
    assert convert_value(field(kind), raw) == value


@pytest.mark.parametrize(("kind", "raw", "words"), [
    ("float", "cheap", "expected a number"),
    ("float", "nan", "expected a number"),
    ("float", 1e300, "out of range for a float"),
    ("double", float("inf"), "finite"),
    ("float", True, "expected a number"),
    ("integer", "12.5", "whole number"),
    ("integer", 12.5, "whole number"),
    ("integer", "99999999999", "out of range"),
    ("boolean", "maybe", "true or false"),
    ("boolean", " true", "true or false"),
    ("integer", " 5", "whole number"),
    ("float", "1_000", "expected a number"),
    ("date", "31/01/2024", "RFC 3339"),
    ("date", "2024-02-30", "RFC 3339"),
    ("date", "2024-01-31T10:00:00", "RFC 3339"),  # a moment needs its offset
    ("date", "2024-01-31 10:00:00Z", "RFC 3339"),
    ("keyword", {"a": 1}, "expected text"),
    ("keyword", "x" * (MAX_KEYWORD_CHARS + 1), f"at most {MAX_KEYWORD_CHARS}"),
    ("keyword", "half \ud800 a pair", "lone surrogate"),
])
def test_a_value_that_does_not_convert_says_why(kind, raw, words):
    with pytest.raises(ValueProblem, match=words):
        convert_value(field(kind), raw)


def test_case_upper_and_the_fields_own_bounds_apply_everywhere():
    assert convert_value(field("keyword", case="upper"), " jpeg ") == "JPEG"
    assert convert_value(field("keyword", case="upper"), ["png", "Gif"]) == ["PNG", "GIF"]
    bounded = field("integer", min=0, max=10)
    assert convert_value(bounded, "10") == 10
    with pytest.raises(ValueProblem, match="between 0 and 10"):
        convert_value(bounded, 11)


def test_strict_values_must_have_their_json_type():
    assert convert_value(field("float"), 7.25, strict=True) == 7.25
    assert convert_value(field("boolean"), True, strict=True) is True
    for kind, raw in (("float", "7.25"), ("boolean", "true"), ("integer", "3"), ("keyword", 3), ("date", 20240131),
                      ("float", "")):
        with pytest.raises(ValueProblem, match="expected"):
            convert_value(field(kind), raw, strict=True)


def test_every_boolean_word_is_true_or_false_and_nothing_else_is():
    assert {convert_value(field("boolean"), word) for word in BOOLEAN_WORDS} == {True, False}
    assert {convert_value(field("boolean"), word.upper()) for word in BOOLEAN_WORDS} == {True, False}


def test_stored_values_are_what_the_index_takes():
    assert stored([date(2024, 1, 31), datetime(2024, 1, 31, 12, tzinfo=timezone(timedelta(hours=2))), 3]) == \
        ["2024-01-31", "2024-01-31T10:00:00+00:00", 3]


def test_a_moment_past_what_utc_can_write_is_stored_in_epoch_milliseconds():
    earliest = datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))  # UTC: the year 0
    assert stored(earliest) == str(int(earliest.timestamp() * 1000))
