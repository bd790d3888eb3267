"""Pure group arithmetic: which neighbour pairs are near-duplicates, which images form a group, which one
represents it. Nothing here talks to Elasticsearch.

A pair is an edge when the vectors' cosine similarity reaches the threshold (Elasticsearch's kNN
`similarity` already drops the rest) and the 64-bit perceptual hashes differ in few enough bits. The vector
finds candidates cheaply; the hash confirms them, because a vector alone also joins two different photos
of one scene (and, with a random test model, unrelated pictures).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from es_search.errors import QueryError

MIN_SIMILARITY = 0.5  # below this a "near-duplicate" is not near; the setting has the same bounds
MAX_PHASH_DISTANCE = 32  # half the bits: beyond this two hashes are as far apart as unrelated pictures


@dataclass(frozen=True)
class Thresholds:
    """What makes two images near-duplicates. A change means regrouping from scratch."""

    similarity: float
    phash_distance: int

    def to_dict(self) -> dict:
        return {"similarity": self.similarity, "phash_distance": self.phash_distance}


def check_thresholds(similarity: float, phash_distance: int) -> Thresholds:
    """Validated thresholds; a QueryError names the one out of range."""
    try:
        similarity = float(similarity)
    except (TypeError, ValueError):
        raise QueryError(f"threshold must be a number between {MIN_SIMILARITY} and 1, got {similarity!r}") from None
    if not MIN_SIMILARITY <= similarity <= 1.0:  # also refuses NaN
        raise QueryError(f"threshold is a cosine similarity between {MIN_SIMILARITY} and 1, got {similarity:g}")
    if isinstance(phash_distance, bool) or not isinstance(phash_distance, int) \
            or not 0 <= phash_distance <= MAX_PHASH_DISTANCE:
        raise QueryError(f"the perceptual-hash distance must be a whole number from 0 to {MAX_PHASH_DISTANCE}, "
                         f"got {phash_distance!r}")
    return Thresholds(similarity, phash_distance)


def thresholds_from(settings) -> Thresholds:
    return check_thresholds(settings.duplicate_similarity, settings.duplicate_phash_distance)


def phash_distance(a: str | None, b: str | None) -> int | None:
    """Bits in which two hex perceptual hashes differ; None when either is missing or malformed."""
    if not a or not b or len(a) != len(b):
        return None
    try:
        return (int(a, 16) ^ int(b, 16)).bit_count()
    except ValueError:
        return None


def confirmed(similarity: float, hash_a: str | None, hash_b: str | None, thresholds: Thresholds) -> bool:
    """Whether a neighbour pair is a near-duplicate: close vectors and close perceptual hashes."""
    distance = phash_distance(hash_a, hash_b)
    return similarity >= thresholds.similarity and distance is not None and distance <= thresholds.phash_distance


class UnionFind:
    """Disjoint sets over string ids, with path halving and union by size."""

    def __init__(self):
        self._parent: dict[str, str] = {}
        self._size: dict[str, int] = {}

    def find(self, item: str) -> str:
        parent = self._parent
        if item not in parent:
            parent[item] = item
            self._size[item] = 1
            return item
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def union(self, a: str, b: str) -> str:
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return root_a
        if self._size[root_a] < self._size[root_b]:
            root_a, root_b = root_b, root_a
        self._parent[root_b] = root_a
        self._size[root_a] += self._size[root_b]
        return root_a

    def groups(self, min_size: int = 2) -> list[list[str]]:
        """Every set of at least `min_size` ids, members sorted, groups in order of their first member."""
        members: dict[str, list[str]] = {}
        for item in self._parent:
            members.setdefault(self.find(item), []).append(item)
        return sorted((sorted(group) for group in members.values() if len(group) >= min_size), key=lambda g: g[0])


def groups_from_edges(edges: Iterable[tuple[str, str]], memberships: Mapping[str, str] | None = None) -> list[list[str]]:
    """Groups (two or more ids) from near-duplicate pairs; `memberships` (id → group) joins ids that are
    already grouped, so an incremental pass extends groups rather than forgetting them."""
    sets = UnionFind()
    for a, b in edges:
        sets.union(a, b)
    for doc_id, group in (memberships or {}).items():
        sets.union(f"group:{group}", doc_id)
    return [[m for m in group if not m.startswith("group:")] for group in sets.groups()
            if sum(not m.startswith("group:") for m in group) >= 2]


def _date_key(source: Mapping) -> str:
    # ISO-8601 strings in UTC sort as dates; a missing date sorts last ("oldest" wins, unknown loses).
    return source.get("taken_at") or source.get("file_modified_at") or source.get("indexed_at") or "9999"


def representative_key(doc_id: str, source: Mapping) -> tuple:
    """Sort key for choosing a group's representative: the largest (pixels, then bytes), then the oldest,
    then the smallest id so the choice never depends on the order documents arrive in."""
    pixels = int(source.get("width") or 0) * int(source.get("height") or 0)
    return (-pixels, -int(source.get("byte_size") or 0), _date_key(source), doc_id)


def choose_representative(members: Mapping[str, Mapping]) -> str:
    """The id of the image that stands for its group (see `representative_key`)."""
    return min(members, key=lambda doc_id: representative_key(doc_id, members[doc_id]))


def group_fields(members: Mapping[str, Mapping]) -> dict[str, dict]:
    """The group fields each member's document should hold: {id: {duplicate_group, duplicate_representative,
    duplicate_count}}. The group is named by its representative's id."""
    representative = choose_representative(members)
    return {doc_id: {"duplicate_group": representative, "duplicate_representative": doc_id == representative,
                     "duplicate_count": len(members)} for doc_id in members}


NO_GROUP = {"duplicate_group": None, "duplicate_representative": None, "duplicate_count": None}
GROUP_FIELDS = tuple(NO_GROUP)
