"""The parts of a compound query: texts, indexed images and vectors, each weighted, each towards (positive)
or away from (negative) what is searched, and the one rule that sums them into the query vector.

Parameters name a part's kind and direction: `q` / `not` (texts), `like` / `unlike` (indexed images by id),
`vec` / `not_vec` (vector tokens, e.g. an uploaded image already encoded). Each is repeatable and takes an
optional weight as a trailing `^number` (`q=beach^2`, `unlike=<id>^0.5`), the boost syntax Elasticsearch
and Lucene users know. A colon would clash with texts such as "ratio 16:9"; a caret followed by a number at
the very end of a text is rare, and `^1` appended keeps such a text literal.

The vector is Rocchio-style: each part's unit vector times its signed weight, summed, then normalised.
Pure: nothing here talks to Elasticsearch or loads a model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from es_search.errors import QueryError

# parameter → (kind, direction). Order is the order of `to_params` and of the chips in the gallery.
PART_PARAMS: dict[str, tuple[str, int]] = {
    "q": ("text", 1), "not": ("text", -1), "like": ("image", 1), "unlike": ("image", -1),
    "vec": ("vector", 1), "not_vec": ("vector", -1),
}
PART_KINDS = ("text", "image", "vector")
MAX_PARTS = 16  # parts of a JSON compound query (POST /api/search `parts`)
# Values per part parameter: a text costs an encode (cached), an image one stored-vector read for all.
PART_LIMITS = {"q": 8, "not": 8, "like": 16, "unlike": 16, "vec": 4, "not_vec": 4}
MAX_WEIGHT = 10.0
_WEIGHT = re.compile(r"\^(\d+(?:\.\d+)?|\.\d+)$")


@dataclass(frozen=True)
class QueryPart:
    """One part: `value` is a text, an image id or a vector token; `weight` carries the sign. A vector made in
    this process (an uploaded image's) travels as its array; its token is only for answers and links."""

    kind: str
    value: str
    weight: float = 1.0
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def negative(self) -> bool:
        return self.weight < 0

    @property
    def param(self) -> str:
        """The query parameter that gives this part."""
        for name, (kind, direction) in PART_PARAMS.items():
            if kind == self.kind and (direction < 0) == self.negative:
                return name
        raise ValueError(f"no parameter for a {self.kind} part")

    def to_param(self) -> tuple[str, str]:
        """(name, value) as the parser reads it back; the weight written only when it is not 1."""
        return self.param, with_weight(self.value, abs(self.weight))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "value": self.value, "weight": self.weight}


def with_weight(value: str, weight: float) -> str:
    """`value^w` as `split_weight` reads it back; weight 1 is left out unless the value itself ends like a
    weight (then `^1` keeps it literal)."""
    if weight == 1.0 and not _WEIGHT.search(value):
        return value
    return f"{value}^{weight:g}"


def split_weight(raw: str) -> tuple[str, float]:
    """`value^w` → (value, w) for a weight in (0, MAX_WEIGHT] after a non-empty value; else (raw, 1.0)."""
    match = _WEIGHT.search(raw)
    if match is None:
        return raw, 1.0
    weight = float(match.group(1))
    value = raw[:match.start()]
    if not 0.0 < weight <= MAX_WEIGHT or not value.strip():
        return raw, 1.0
    return value, weight


def parse_parts(params: Mapping[str, Sequence[str] | str], *, check_text, check_id, check_vector
                ) -> list[QueryPart]:
    """Every part the parameters give, in PART_PARAMS order, each value checked by the callable for its
    kind (which raises QueryError). More values of one parameter than PART_LIMITS allows is a QueryError."""
    checks = {"text": check_text, "image": check_id, "vector": check_vector}
    parts: list[QueryPart] = []
    for name, (kind, direction) in PART_PARAMS.items():
        raw_values = params.get(name) or []
        raw_values = [raw_values] if isinstance(raw_values, str) else raw_values
        given = [str(raw) for raw in raw_values if raw is not None and str(raw).strip()]
        if len(given) > PART_LIMITS[name]:
            raise QueryError(f"{name} takes at most {PART_LIMITS[name]} values, got {len(given)}")
        for raw in given:
            value, weight = split_weight(raw)
            # Texts and ids follow their rule as given, weight included (a vector token has no room for one).
            checks[kind](value if kind == "vector" else raw, name)
            if kind == "text":
                value = value.strip()
            part = QueryPart(kind, value, direction * weight)
            if part not in parts:  # the same part twice is one part, not double weight by accident
                parts.append(part)
    return parts


CANCELLED = ("the query has no direction: its parts cancel out (the same text or image towards and away?), or its "
             "vector is zero; nothing can be ranked")


def combine_parts(vectors: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray | None:
    """The query vector: Σ weight × part vector, normalised once. Every part vector is a unit vector already
    (encoders, stored vectors and vector tokens are normalised where they are made). None when the sum has
    no direction: the parts cancel, and nothing can be ranked (see CANCELLED)."""
    if not vectors:
        raise QueryError("a query needs at least one part")
    stacked = np.stack([np.asarray(v, dtype=np.float32).reshape(-1) for v in vectors])
    total = (np.asarray(weights, dtype=np.float32).reshape(-1, 1) * stacked).sum(axis=0)
    norm = float(np.linalg.norm(total))
    if not np.isfinite(norm) or norm < 1e-6:
        return None
    return (total / norm).astype(np.float32)
