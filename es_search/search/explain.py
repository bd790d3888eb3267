"""Why a hit is there: its cosine to each part of the query, and in hybrid mode its place in the vector and
keyword rankings and the fields the keywords matched (Elasticsearch highlighting).

The cosines are computed here from the stored vectors rather than asked of Elasticsearch: one read of the
page's vectors answers every part, where a scored query per part would cost a round trip each.
Pure: the caller fetches the vectors and rankings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from es_search.search.parts import QueryPart


def part_cosines(hit_vector: np.ndarray | None, parts: Sequence[tuple[QueryPart, np.ndarray]]) -> list[dict]:
    """Each part with the hit's cosine to it (None when the hit has no stored vector)."""
    unit_hit = None
    if hit_vector is not None:
        norm = float(np.linalg.norm(hit_vector))
        unit_hit = np.asarray(hit_vector, dtype=np.float32) / norm if norm > 0 else None
    explained = []
    for part, vector in parts:
        cosine = None
        if unit_hit is not None:
            unit_part = np.asarray(vector, dtype=np.float32) / max(float(np.linalg.norm(vector)), 1e-12)
            cosine = round(float(unit_hit @ unit_part), 6)
        explained.append(dict(part.to_dict(), cosine=cosine))
    return explained


def explain_hit(hit_id: str, hit_vector: np.ndarray | None, parts: Sequence[tuple[QueryPart, np.ndarray]], *,
                vector_ranking: Sequence[str], keyword_ranking: Sequence[str] | None = None,
                highlights: dict[str, dict] | None = None) -> dict:
    """The `explain` object of one hit: parts with cosines, vector rank, and (hybrid) keyword rank and the
    highlighted fields. A rank is 1-based, None when that ranking did not find the hit within its depth."""
    explained: dict = {"parts": part_cosines(hit_vector, parts), "vector_rank": _rank(vector_ranking, hit_id)}
    if keyword_ranking is not None:
        explained["keyword_rank"] = _rank(keyword_ranking, hit_id)
        explained["matched"] = (highlights or {}).get(hit_id, {})
    return explained


def _rank(ranking: Sequence[str], hit_id: str) -> int | None:
    try:
        return list(ranking).index(hit_id) + 1
    except ValueError:
        return None
