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
from dataclasses import dataclass

import numpy as np

from es_search.errors import QueryError
from es_search.vectors import l2_normalise

# parameter → (kind, direction). Order is the order of `to_params` and of the chips in the gallery.
PART_PARAMS: dict[str, tuple[str, int]] = {
    "q": ("text", 1), "not": ("text", -1), "like": ("image", 1), "unlike": ("image", -1),
    "vec": ("vector", 1), "not_vec": ("vector", -1),
}
PART_KINDS = ("text", "image", "vector")
MAX_PARTS = 16  # every part costs an encode or a stored-vector read
MAX_WEIGHT = 10.0
_WEIGHT = re.compile(r"\^(\d+(?:\.\d+)?|\.\d+)$")


@dataclass(frozen=True)
class QueryPart:
    """One part: `value` is a text, an image id or a vector token; `weight` carries the sign."""

    kind: str
    value: str
    weight: float = 1.0

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


def split_weight(raw: str, param: str) -> tuple[str, float]:
    """`value^w` → (value, w); no trailing weight → (value, 1.0). The weight must be in (0, MAX_WEIGHT]."""
    match = _WEIGHT.search(raw)
    if match is None:
        return raw, 1.0
    weight = float(match.group(1))
    if not 0.0 < weight <= MAX_WEIGHT:
        raise QueryError(f"{param}: a weight (after ^) must be above 0 and at most {MAX_WEIGHT:g}, got {weight:g}")
    return raw[:match.start()], weight


def parse_parts(params: Mapping[str, Sequence[str] | str], *, check_text, check_id, check_vector
                ) -> list[QueryPart]:
    """Every part the parameters give, in PART_PARAMS order, each value checked by the callable for its
    kind (which raises QueryError). More than MAX_PARTS in all is a QueryError."""
    checks = {"text": check_text, "image": check_id, "vector": check_vector}
    parts: list[QueryPart] = []
    for name, (kind, direction) in PART_PARAMS.items():
        raw_values = params.get(name) or []
        for raw in [raw_values] if isinstance(raw_values, str) else raw_values:
            if raw is None or not str(raw).strip():
                continue
            value, weight = split_weight(str(raw).strip() if kind != "text" else str(raw), name)
            if kind == "text":
                value = value.strip()
                if not value:
                    raise QueryError(f"{name} needs a text before its weight")
            checks[kind](value, name)
            part = QueryPart(kind, value, direction * weight)
            if part not in parts:  # the same part twice is one part, not double weight by accident
                parts.append(part)
    if len(parts) > MAX_PARTS:
        raise QueryError(f"a query has at most {MAX_PARTS} parts (q, not, like, unlike, vec, not_vec together); "
                         f"got {len(parts)}")
    return parts


def combine_parts(vectors: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """The query vector: Σ weight × unit(part vector), normalised. A sum with no direction (parts that
    cancel, or no positive part) is a QueryError: it cannot rank anything."""
    if not vectors:
        raise QueryError("a query needs at least one part")
    units = l2_normalise(np.stack([np.asarray(v, dtype=np.float32).reshape(-1) for v in vectors]))
    total = (np.asarray(weights, dtype=np.float32).reshape(-1, 1) * units).sum(axis=0)
    norm = float(np.linalg.norm(total))
    if not np.isfinite(norm) or norm < 1e-6:
        raise QueryError("the query's parts cancel out: give a positive part that is not also negated")
    return (total / norm).astype(np.float32)
