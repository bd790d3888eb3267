"""Recommendations from what a visitor viewed, liked and disliked (pure): each image's weight, and the ids
left out of the answer.

The query is the compound query's own Rocchio sum (es_search/search/parts.py), over indexed images: a view
weighs 1 and a like 2, each halving every `half_life` positions back (the list's first id is the most
recent), unless the caller gives a weight; a dislike weighs -1 whatever its age (not wanting something does
not fade). An id given twice sums its weights. Everything given is left out of the answer: a visitor has seen
it. Only the 16 most recent of each kind count: older ones weigh under a twentieth of the newest with the
default half-life anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from es_search.errors import QueryError
from es_search.fields import FieldRegistry
from es_search.ids import ID_PATTERN, MAX_ID_CHARS
from es_search.search.contract import JsonBody, number, paging_model
from es_search.search.parts import MAX_WEIGHT

VIEW_WEIGHT, LIKE_WEIGHT, DISLIKE_WEIGHT = 1.0, 2.0, 1.0
DEFAULT_HALF_LIFE = 4.0  # positions: the fifth most recent view counts half as much as the last
MAX_SIGNALS = 16  # of each kind, the most recent


@dataclass(frozen=True)
class Signal:
    """One image of a visitor's history: its id and, when the caller knows better, its own weight."""

    id: str
    weight: float | None = None


@dataclass(frozen=True)
class Feedback:
    viewed: tuple[Signal, ...] = ()
    liked: tuple[Signal, ...] = ()
    disliked: tuple[Signal, ...] = ()
    half_life: float = DEFAULT_HALF_LIFE

    def seen(self) -> tuple[str, ...]:
        """Every id given: none of them is recommended."""
        return tuple(dict.fromkeys(s.id for s in (*self.viewed, *self.liked, *self.disliked)))


def image_weights(feedback: Feedback) -> dict[str, float]:
    """{id: signed weight} of the images that make the query, strongest first (an id whose weights cancel out
    is left out)."""
    if not feedback.half_life > 0:
        raise QueryError("half_life must be more than 0")
    weights: dict[str, float] = {}
    for signals, base, fading in ((feedback.viewed, VIEW_WEIGHT, True), (feedback.liked, LIKE_WEIGHT, True),
                                  (feedback.disliked, -DISLIKE_WEIGHT, False)):
        for position, signal in enumerate(signals[:MAX_SIGNALS]):
            weight = signal.weight if signal.weight is not None else \
                base * (0.5 ** (position / feedback.half_life) if fading else 1.0)
            if base < 0 and signal.weight is not None:
                weight = -abs(weight)  # a dislike pulls away, whatever sign it was given
            weights[signal.id] = weights.get(signal.id, 0.0) + weight
    weights = {image: weight for image, weight in weights.items() if weight != 0}
    return dict(sorted(weights.items(), key=lambda pair: -abs(pair[1])))


# --------------------------------------------------------------------------- the request (GET and POST /api/recommend)

MAX_GIVEN = 100  # ids a request may name of each kind (a browser's history); only MAX_SIGNALS count


class SignalBody(JsonBody):
    id: str = Field(pattern=ID_PATTERN, max_length=MAX_ID_CHARS, description="An indexed image's id.")
    # Absent is None by default, not by type (as the contract's fields): `| None` would keep the bounds out
    # of the JSON schema.
    weight: Annotated[float, number(False)] = Field(None, gt=0, le=MAX_WEIGHT, description=(
        "Its own weight instead of the one its place gives it (a dislike pulls away by it)."))


@lru_cache(maxsize=64)
def recommend_model(settings, registry: FieldRegistry, text: bool = True) -> type[BaseModel]:
    """GET /api/recommend (ids as repeated parameters) or POST /api/recommend (JSON: each id, or {"id",
    "weight"}), beside the paging and filter parameters every search route takes."""
    image_id = Annotated[str, Field(pattern=ID_PATTERN, max_length=MAX_ID_CHARS)]
    signal = image_id if text else image_id | SignalBody

    def signals(what: str) -> tuple:
        return (list[signal], Field(default_factory=list, max_length=MAX_GIVEN, description=(
            f"{what}, the most recent first; the {MAX_SIGNALS} most recent count. Left out of the answer.")))

    def something_to_be_like(cls, raw):
        if isinstance(raw, dict) and not raw.get("viewed") and not raw.get("liked"):
            raise ValueError("name at least one viewed or liked image")
        return raw

    # GET: `viewed` is the simple case, so it is required; POST: `viewed` or `liked`.
    either = {"anyOf": [{"required": [name], "properties": {name: {"minItems": 1}}} for name in ("viewed", "liked")]}
    viewed = signals("Images the visitor viewed")
    if text:
        viewed = (list[signal], Field(min_length=1, max_length=MAX_GIVEN, description=viewed[1].description))
    return create_model(
        "RecommendParams" if text else "RecommendBody", __base__=paging_model(settings, registry, text),
        __config__=None if text else ConfigDict(extra="forbid", strict=True, populate_by_name=True, json_schema_extra=either),
        __validators__=None if text else {"something_to_be_like": model_validator(mode="before")(something_to_be_like)},
        viewed=viewed, liked=signals("Images the visitor liked (twice a view)"),
        disliked=signals("Images the visitor does not want more of"),
        half_life=(Annotated[float, number(text)], Field(DEFAULT_HALF_LIFE, gt=0, le=1000, description=(
            "After this many places back, a view or like counts half as much."))),
    )


def feedback_of(parsed) -> Feedback:
    """The Feedback a validated recommend model holds."""
    def signals(given) -> tuple[Signal, ...]:
        return tuple(Signal(item) if isinstance(item, str) else Signal(item.id, item.weight) for item in given or ())

    return Feedback(signals(parsed.viewed), signals(parsed.liked), signals(parsed.disliked), parsed.half_life)
