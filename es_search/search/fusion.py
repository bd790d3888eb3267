"""Fusing rankings and reading scores: reciprocal rank fusion for hybrid search, cosine from kNN scores."""

from __future__ import annotations

from collections.abc import Sequence


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], rank_constant: int = 60) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(d) = Σ 1 / (rank_constant + rank of d in each list), rank from 1.

    Ties go to the id with the better single rank, then to the earlier list, so the order is deterministic.
    A list naming an id twice counts it once, at its first rank.
    """
    if rank_constant < 1:
        raise ValueError(f"rank_constant must be at least 1, got {rank_constant}")
    scores: dict[str, float] = {}
    best: dict[str, tuple[int, int]] = {}
    for list_number, ranking in enumerate(rankings):
        seen: set[str] = set()
        for rank, doc_id in enumerate(ranking, start=1):
            if doc_id in seen:
                continue
            seen.add(doc_id)
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (rank_constant + rank)
            best[doc_id] = min(best.get(doc_id, (rank, list_number)), (rank, list_number))
    return sorted(scores.items(), key=lambda item: (-item[1], best[item[0]]))


def words_first_fusion(vector_ranking: Sequence[str], keyword_ranking: Sequence[str],
                       rank_constant: int = 60) -> list[tuple[str, float]]:
    """Text mode: the images whose words match first, in their keyword (BM25) order; then the others in their
    vector order. A vector cannot lift an image above one that says the words, nor reorder those: a random
    or weak image model must not blur an exact reading.

    Scores: 1 + 1 / (rank_constant + keyword rank) for the matches, 1 / (rank_constant + vector rank) for
    the rest, so scores fall along the ranking and tell the two parts apart.
    """
    matched = list(dict.fromkeys(keyword_ranking))
    seen = set(matched)
    first = [(doc_id, 1.0 + 1.0 / (rank_constant + rank)) for rank, doc_id in enumerate(matched, start=1)]
    rest = [(doc_id, 1.0 / (rank_constant + rank)) for rank, doc_id in enumerate(vector_ranking, start=1)
            if doc_id not in seen and not seen.add(doc_id)]
    return first + rest


def cosine_from_score(score: float) -> float:
    """Elasticsearch scores cosine kNN hits as (1 + cos) / 2; users are shown the cosine itself."""
    return max(-1.0, min(1.0, 2.0 * float(score) - 1.0))
