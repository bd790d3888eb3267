"""After Elasticsearch has ranked: where a query's good matches end, and how the good matches are ordered.

The cutoff is relative to the query's own scores, because a fixed cosine fails: good matches score ~0.3 for
one CLIP text and ~0.9 for a photo of the same scene. The rule, over the best `window` cosines (best first):

1. `spread` = best − median. When the best does not stand out from the pack (spread < `min_spread`), nothing
   is a good match: every result is "more results" and `no_good_match` is reported.
2. Candidates are the results within `margin` × spread of the best (a prefix of the ranking).
3. The good matches end at the largest drop between neighbouring cosines among the candidates and the first
   result after them (ties go to the deeper drop, so an even slope keeps every candidate).

In hybrid mode the same drop-finding runs on the fused scores (`hybrid_cutoff`).
`sort` then orders the good matches (relevance; boosted: relevance times the ranking signals of
es_search/boosts.py; date, size or a field, ties in boosted order); more results follow in relevance order,
so a signal never pulls in a result from below the cutoff. Pure: no Elasticsearch, no model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from statistics import median

from es_search.boosts import Boosted, Signal, boost


@dataclass(frozen=True)
class CutoffRule:
    window: int = 50
    margin: float = 0.5
    min_spread: float = 0.03


@dataclass(frozen=True)
class Cutoff:
    good: int  # how many of the best results are good matches
    similarity: float | None  # the lowest cosine among them
    no_good_match: bool
    spread: float | None  # best − median of the window, what step 1 judged

    def to_dict(self) -> dict:
        return {"good_matches": self.good, "similarity": _round(self.similarity), "no_good_match": self.no_good_match,
                "spread": _round(self.spread)}


def find_cutoff(similarities: Sequence[float], rule: CutoffRule) -> Cutoff:
    """The cutoff for cosines sorted best first (see the module's rule)."""
    scores = [float(s) for s in similarities[:rule.window]]
    if not scores:
        return Cutoff(good=0, similarity=None, no_good_match=True, spread=None)
    best = scores[0]
    spread = best - median(scores)
    if len(scores) > 2 and spread < rule.min_spread:
        return Cutoff(good=0, similarity=None, no_good_match=True, spread=spread)
    candidates = sum(1 for s in scores if s >= best - rule.margin * spread)
    reach = min(candidates + 1, len(scores))
    gaps = [scores[i] - scores[i + 1] for i in range(reach - 1)]
    if not gaps:
        good = candidates
    else:
        largest = max(gaps)
        good = max(i for i, gap in enumerate(gaps) if gap == largest) + 1
    return Cutoff(good=good, similarity=scores[good - 1], no_good_match=False, spread=spread)


def hybrid_cutoff(vector_cutoff: Cutoff, fused: Sequence[tuple[str, float]], similarity: dict[str, float], *,
                  keywords_found: bool, rule: CutoffRule) -> Cutoff:
    """Hybrid mode: the same drop-finding on the fused (RRF) scores, whose scale is ranks, not cosines, so
    without the spread test; nothing is good only when the vectors show nothing standing out and no keyword
    matched. Good matches stay a prefix of the fused ranking."""
    if vector_cutoff.no_good_match and not keywords_found:
        return Cutoff(good=0, similarity=None, no_good_match=True, spread=vector_cutoff.spread)
    fused_cut = find_cutoff([score for _, score in fused], replace(rule, min_spread=0.0))
    known = [similarity[doc_id] for doc_id, _ in fused[:fused_cut.good] if doc_id in similarity]
    return Cutoff(good=fused_cut.good, similarity=min(known) if known else None, no_good_match=fused_cut.good == 0,
                  spread=fused_cut.spread)


def sort_key(sort: str):
    """A key for `sorted` over image documents: date (newest first: taken, else file date, else indexed) or
    size (most pixels first). Documents without the value go last, ties keep their relevance order."""
    if sort == "date":
        def key(source: dict):
            value = source.get("taken_at") or source.get("file_modified_at") or source.get("indexed_at")
            return (value is None, _negated_text(value or ""))
        return key
    if sort == "size":
        def key(source: dict):
            width, height = source.get("width"), source.get("height")
            pixels = width * height if isinstance(width, int) and isinstance(height, int) else None
            return (pixels is None, -(pixels or 0))
        return key
    return field_key(sort.lstrip("-"), descending=sort.startswith("-"))


def field_key(name: str, descending: bool = False):
    """A key ordering documents by one field's value (the first, for a list), missing values last."""
    def key(source: dict):
        value = source.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is None:
            return (True, 0, ())
        if isinstance(value, bool | int | float):
            return (False, -value if descending else value, ())
        text = str(value)
        return (False, 0, _negated_text(text) if descending else tuple(ord(c) for c in text))
    return key


def boosted_scores(good_ids: Sequence[str], scores: dict[str, float], sources: dict[str, dict],
                   signals: Sequence[Signal], now: datetime, *, cosines: bool) -> dict[str, Boosted]:
    """Each good match's score under the signals. The relevance multiplied is positive: a cosine is taken as
    Elasticsearch scores it, (1 + cosine) / 2; a fused (hybrid) score as it is."""
    return {doc_id: boost((1.0 + scores[doc_id]) / 2.0 if cosines else scores[doc_id], sources.get(doc_id, {}),
                          signals, now) for doc_id in good_ids}


def order_good_first(ranked_ids: Sequence[str], good_ids: set[str], sources: dict[str, dict], sort: str,
                     boosted: dict[str, float] | None = None) -> list[str]:
    """The final order: the good matches (in relevance order, by their `boosted` scores when given, then
    sorted by `sort` unless it is relevance or boosted), then the rest in relevance order. `sorted` is
    stable, so ties keep the order before them."""
    good = [doc_id for doc_id in ranked_ids if doc_id in good_ids]
    rest = [doc_id for doc_id in ranked_ids if doc_id not in good_ids]
    if boosted:
        good = sorted(good, key=lambda doc_id: -boosted.get(doc_id, 0.0))
    if sort not in ("relevance", "boosted"):
        key = sort_key(sort)
        good = sorted(good, key=lambda doc_id: key(sources.get(doc_id, {})))
    return good + rest


def _negated_text(value: str) -> tuple[int, ...]:
    # ISO dates sort as text; newest first without parsing them.
    return tuple(-ord(c) for c in value)


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)
