"""Ranking signals: what a catalogue's own fields add to the order of a search's good matches.

A signal names one field and how it moves a document:

- a value of a keyword or boolean field, with a factor: `in_stock:true^1.2`, `brand:acme^1.5` (a factor
  below 1 demotes, `brand:other^0.8`);
- a function of a number field, with a weight: `rating:linear^0.1`, `sales:log^0.5`, `price:reciprocal^2`,
  giving 1 + weight × f(value) with f(v) = v, log10(1 + v) or 1 / (1 + v) (as Elasticsearch's
  `field_value_factor` modifiers `none`, `log1p` and `reciprocal`, kept finite at 0), never below 0;
- recency by a date field, with a half-life and a weight: `taken_at:30d^1` gives 1 + weight × 0.5^(age /
  half-life): twice the score today for weight 1, 1.5× a half-life ago, fading to 1.

A document is ranked by its relevance × the product of its signals' factors; a document without the field
gets 1 from that signal. The same signals are declared in the field registry (a field's `boost` entry) or
given per request (`boost=`), in the text form above. Pure: no Elasticsearch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

FUNCTIONS = ("linear", "log", "reciprocal")
MAX_SIGNALS = 10  # per request
MAX_BOOST_WEIGHT = 100.0
DEFAULT_VALUE_FACTOR = 1.5  # `brand:acme` without a weight: preferred
HALF_LIFE_UNITS = {"h": 3600.0, "d": 86_400.0, "w": 7 * 86_400.0, "y": 365.25 * 86_400.0}
_HALF_LIFE = re.compile(r"(\d+(?:\.\d+)?)([hdwy])")
_WEIGHT = re.compile(r"\^(\d+(?:\.\d+)?|\.\d+)$")
SIGNAL_FORMS = ("`field:value^factor` (keyword or boolean), `field:linear|log|reciprocal^weight` (number), "
                "`field:<half-life>^weight` (date; half-life like 12h, 30d, 2w, 1y)")


class BadSignal(ValueError):
    """A signal that cannot be read; the message says why."""


@dataclass(frozen=True)
class Signal:
    field: str
    kind: str  # value | linear | log | reciprocal | recency
    weight: float  # the factor (value), or the weight of the function or of recency
    value: str | None = None  # value: the value that is preferred, as text ("true" for a boolean)
    half_life_s: float | None = None  # recency

    @property
    def key(self) -> tuple:
        """Signals with the same key are one signal: a request's replaces the registry's."""
        return (self.field, self.kind if self.kind != "value" else ("value", self.value))

    def to_text(self) -> str:
        """The form `parse_signal` reads back."""
        spec = {"value": self.value, "recency": _half_life_text(self.half_life_s or 0.0)}.get(self.kind, self.kind)
        return f"{self.field}:{spec}^{self.weight:g}"

    def factor(self, source: Mapping, now: datetime) -> tuple[float, object]:
        """(factor, the document's value it was computed from); 1 when the document lacks the field."""
        raw = source.get(self.field)
        if self.kind == "value":
            values = raw if isinstance(raw, list) else [raw]
            texts = [_as_text(v) for v in values if v is not None]
            return (self.weight if (self.value or "").casefold() in texts else 1.0), raw
        value = raw[0] if isinstance(raw, list) and raw else raw
        if value is None or isinstance(value, list):
            return 1.0, None
        if self.kind == "recency":
            moment = _moment(value)
            if moment is None:
                return 1.0, value
            age = max(0.0, (now - moment).total_seconds())
            return 1.0 + self.weight * 0.5 ** (age / (self.half_life_s or 1.0)), value
        if isinstance(value, bool) or not isinstance(value, int | float):
            return 1.0, value
        v = float(value)
        f = {"linear": v, "log": math.log10(1.0 + max(v, 0.0)), "reciprocal": 1.0 / (1.0 + max(v, 0.0))}[self.kind]
        return max(0.0, 1.0 + self.weight * f), value


def parse_signal(text: str, field_type: Callable[[str], str | None]) -> Signal:
    """A signal from its text form; `field_type` gives a field's type (None: no such field)."""
    raw = text.strip()
    weight = None
    match = _WEIGHT.search(raw)
    if match:
        weight = float(match.group(1))
        raw = raw[:match.start()]
    name, colon, spec = raw.partition(":")
    name, spec = name.strip(), spec.strip()
    if not colon or not name or not spec:
        raise BadSignal(f"{text!r} is not a signal; give {SIGNAL_FORMS}")
    kind = field_type(name)
    if kind is None:
        raise BadSignal(f"{text!r}: there is no field {name!r}")
    if kind in ("keyword", "boolean"):
        if kind == "boolean" and spec.lower() not in ("true", "false"):
            raise BadSignal(f"{text!r}: {name} is true or false")
        return _checked(Signal(name, "value", DEFAULT_VALUE_FACTOR if weight is None else weight,
                               value=spec.lower() if kind == "boolean" else spec), text)
    if kind in ("integer", "long", "float", "double"):
        if spec not in FUNCTIONS:
            raise BadSignal(f"{text!r}: a number field takes {', '.join(FUNCTIONS)}")
        return _checked(Signal(name, spec, 1.0 if weight is None else weight), text)
    if kind == "date":
        return _checked(Signal(name, "recency", 1.0 if weight is None else weight, half_life_s=half_life(spec)), text)
    raise BadSignal(f"{text!r}: a {kind} field cannot rank (keyword, boolean, number or date fields can)")


def signals_of_entry(name: str, kind: str, entry: object) -> list[Signal]:
    """The signals of a registry field's `boost` entry:
    `{"values": {"true": 1.2}}` (keyword, boolean), `{"function": "log", "weight": 0.5}` (number),
    `{"half_life": "30d", "weight": 1}` (date). BadSignal says what is wrong."""
    if not isinstance(entry, Mapping):
        raise BadSignal("boost must be an object")
    unknown = set(entry) - {"values", "function", "weight", "half_life"}
    if unknown:
        raise BadSignal(f"boost has unknown keys {sorted(unknown)}")

    def typed(text: str) -> str | None:
        return kind if text == name else None

    if "values" in entry:
        values = entry["values"]
        if not isinstance(values, Mapping) or not values:
            raise BadSignal("boost.values maps values to factors, e.g. {\"true\": 1.2}")
        return [parse_signal(f"{name}:{_as_text(value)}^{_weight_text(factor)}", typed) for value, factor in values.items()]
    weight = entry.get("weight", 1.0)
    if "function" in entry:
        return [parse_signal(f"{name}:{entry['function']}^{_weight_text(weight)}", typed)]
    if "half_life" in entry:
        return [parse_signal(f"{name}:{entry['half_life']}^{_weight_text(weight)}", typed)]
    raise BadSignal("boost takes values (keyword, boolean), function (number) or half_life (date)")


def half_life(text: str) -> float:
    """Seconds of a half-life such as 12h, 30d, 2w or 1y."""
    match = _HALF_LIFE.fullmatch(str(text).strip())
    if not match or float(match.group(1)) <= 0:
        raise BadSignal(f"{text!r} is not a half-life; give a number and h, d, w or y (30d)")
    return float(match.group(1)) * HALF_LIFE_UNITS[match.group(2)]


def merged(*groups: Sequence[Signal]) -> tuple[Signal, ...]:
    """The signals of several sources; a later signal with the same key replaces an earlier one."""
    by_key: dict[tuple, Signal] = {}
    for group in groups:
        for signal in group:
            by_key.pop(signal.key, None)
            by_key[signal.key] = signal
    return tuple(by_key.values())


@dataclass(frozen=True)
class Boosted:
    score: float  # relevance × every factor
    relevance: float
    factors: tuple[tuple[Signal, float, object], ...]  # (signal, factor, the value it saw)

    def to_dict(self) -> dict:
        return {"relevance": round(self.relevance, 6), "score": round(self.score, 6),
                "signals": [{"signal": s.to_text(), "value": value, "factor": round(factor, 6)}
                            for s, factor, value in self.factors]}


def boost(relevance: float, source: Mapping, signals: Sequence[Signal], now: datetime) -> Boosted:
    """One document's boosted score and each signal's part of it."""
    factors = tuple((signal, *signal.factor(source, now)) for signal in signals)
    score = relevance
    for _, factor, _ in factors:
        score *= factor
    return Boosted(score=score, relevance=relevance, factors=factors)


def _checked(signal: Signal, text: str) -> Signal:
    if not 0 < signal.weight <= MAX_BOOST_WEIGHT:
        raise BadSignal(f"{text!r}: the weight must be above 0 and at most {MAX_BOOST_WEIGHT:g}")
    if signal.kind == "value" and not signal.value:
        raise BadSignal(f"{text!r}: name the value")
    return signal


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).casefold()


def _weight_text(weight: object) -> str:
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise BadSignal(f"a weight is a number, got {weight!r}")
    return repr(float(weight))


def _half_life_text(seconds: float) -> str:
    for unit, size in sorted(HALF_LIFE_UNITS.items(), key=lambda item: -item[1]):
        if seconds >= size and (seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    return f"{seconds / 3600:g}h"


def _moment(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
