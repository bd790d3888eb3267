"""What a watchlist is (pure): its name, policy, thresholds and prompts, with the rules that check them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from es_search.errors import QueryError

# What a match does to an image, weakest first: a stronger policy wins when several lists match.
POLICIES = ("flag", "hold", "refuse")
# The document's `watchlist_status` for each policy (a refused image is never written).
STATUS_OF = {"flag": "flagged", "hold": "held", "refuse": "refused"}
RELEASED = "released"
NAME_PATTERN = r"[a-z0-9][a-z0-9_-]{0,63}"
MIN_SIMILARITY, MAX_PHASH_DISTANCE = 0.5, 32  # the near-duplicates' own bounds
MAX_PROMPTS = 50


@dataclass(frozen=True)
class Prompt:
    """An unwanted category described in words: an image whose vector is at least `threshold` (cosine)
    from the prompt's text vector matches."""

    text: str
    threshold: float
    vector: tuple[float, ...] = field(default=(), repr=False)

    def to_dict(self, with_vector: bool = True) -> dict:
        body: dict = {"text": self.text, "threshold": self.threshold}
        if with_vector:
            body["vector"] = list(self.vector)
        return body


@dataclass(frozen=True)
class Watchlist:
    """A named set of reference images (kept in the watchlists index, es_search/watchlists/store.py) and
    prompts, the thresholds a match must reach, and what a match does (`policy`)."""

    name: str
    policy: str
    similarity: float
    phash_distance: int
    prompts: tuple[Prompt, ...] = ()
    description: str = ""
    created_at: str | None = None

    def to_source(self) -> dict:
        """The list's document in the watchlists index."""
        return {"kind": "list", "list": self.name, "policy": self.policy, "similarity": self.similarity,
                "phash_distance": self.phash_distance, "description": self.description,
                "prompts": [prompt.to_dict() for prompt in self.prompts], "created_at": self.created_at}

    def to_dict(self) -> dict:
        """What the command line and the API show (prompt vectors left out)."""
        return {"name": self.name, "policy": self.policy, "similarity": self.similarity,
                "phash_distance": self.phash_distance, "description": self.description,
                "prompts": [prompt.to_dict(with_vector=False) for prompt in self.prompts],
                "created_at": self.created_at}

    @classmethod
    def from_source(cls, source: Mapping) -> Watchlist:
        prompts = tuple(Prompt(p["text"], float(p["threshold"]), tuple(p.get("vector") or ()))
                        for p in source.get("prompts") or ())
        return cls(source["list"], source["policy"], float(source["similarity"]), int(source["phash_distance"]),
                   prompts, source.get("description") or "", source.get("created_at"))


def check_name(name: object) -> str:
    if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
        raise QueryError(f"a watchlist name is 1 to 64 lower-case letters, digits, '-' or '_' (starting with a letter "
                         f"or digit), got {name!r}")
    return name


def check_policy(policy: object) -> str:
    if policy not in POLICIES:
        raise QueryError(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    return policy  # type: ignore[return-value]


def check_similarity(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise QueryError(f"similarity must be a number between {MIN_SIMILARITY} and 1, got {value!r}") from None
    if not MIN_SIMILARITY <= number <= 1.0:
        raise QueryError(f"similarity is a cosine similarity between {MIN_SIMILARITY} and 1, got {number:g}")
    return number


def check_distance(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PHASH_DISTANCE:
        raise QueryError(f"the perceptual-hash distance must be a whole number from 0 to {MAX_PHASH_DISTANCE}, "
                         f"got {value!r}")
    return value


def check_prompt(text: object, threshold: object) -> tuple[str, float]:
    """A prompt's text and threshold (an image-to-text cosine, between 0 and 1)."""
    if not isinstance(text, str) or not text.strip() or len(text) > 300:
        raise QueryError("a prompt is a text of 1 to 300 characters")
    try:
        number = float(threshold)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise QueryError(f"a prompt's threshold must be a number between 0 and 1, got {threshold!r}") from None
    if not 0.0 < number <= 1.0:
        raise QueryError(f"a prompt's threshold is a cosine similarity between 0 and 1, got {number:g}")
    return text.strip(), number


def strongest(policies: Sequence[str]) -> str | None:
    """The policy that wins among those matched (refuse over hold over flag), or None."""
    ranked = [policy for policy in POLICIES if policy in policies]
    return ranked[-1] if ranked else None


def build_watchlist(name: object, *, policy: object, similarity: object, phash_distance: object,
                    description: object = "", prompts: Sequence[tuple[object, object]] = (),
                    encode: Callable[[list[str]], np.ndarray] | None = None, keep: Sequence[Prompt] = ()) -> Watchlist:
    """A checked list; its prompts' texts encoded by `encode` (the text model) into unit vectors. `keep`:
    prompts the list has already, placed first (a prompt of the same text is replaced)."""
    checked = [check_prompt(text, threshold) for text, threshold in prompts]
    if len(checked) + len(keep) > MAX_PROMPTS:
        raise QueryError(f"a watchlist holds at most {MAX_PROMPTS} prompts")
    if not isinstance(description, str) or len(description) > 1000:
        raise QueryError("a description is a text of at most 1000 characters")
    new: list[Prompt] = []
    if checked:
        if encode is None:
            raise QueryError("prompts need the text model")
        vectors = np.asarray(encode([text for text, _ in checked]), dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        new = [Prompt(text, threshold, tuple(round(float(x), 7) for x in vector))
               for (text, threshold), vector in zip(checked, vectors, strict=True)]
    texts = {prompt.text for prompt in new}
    return Watchlist(check_name(name), check_policy(policy), check_similarity(similarity),
                     check_distance(phash_distance), tuple([p for p in keep if p.text not in texts] + new), description)
