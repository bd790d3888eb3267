"""Paging through near-duplicate groups: representatives largest group first, each with its members and
their similarity to the representative (computed here from the stored vectors; groups are small)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from elasticsearch import Elasticsearch

from es_search.errors import ImageNotFound, QueryError
from es_search.fields import VECTOR_FIELD
from es_search.visibility import hidden_clause, without

MEMBER_SOURCE = ["paths", "relative_path", "file_name", "title", "width", "height", "byte_size", "format",
                 "taken_at", "file_modified_at", "indexed_at", "thumbnail", "phash", "duplicate_group",
                 "duplicate_representative", "duplicate_count"]
MAX_PAGE_SIZE = 100
MAX_MEMBERS = 1000  # members read per page of groups (one search, within max_result_window)
MAX_DEPTH = 1000  # the index's max_result_window (IMGSEARCH_MAX_RESULT_WINDOW default)


@dataclass
class Member:
    id: str
    source: dict
    similarity: float  # cosine to the representative (1.0 for the representative itself)
    representative: bool


@dataclass
class Group:
    id: str
    members: list[Member] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.members)


@dataclass
class GroupPage:
    groups: list[Group]
    page: int
    size: int
    total: int

    @property
    def has_next(self) -> bool:
        return self.page * self.size < min(self.total, MAX_DEPTH)


def check_page(page: int, size: int) -> None:
    if size < 1 or size > MAX_PAGE_SIZE:
        raise QueryError(f"size must be between 1 and {MAX_PAGE_SIZE}, got {size}")
    if page < 1:
        raise QueryError(f"page must be 1 or more, got {page}")


def list_groups(es: Elasticsearch, index: str, *, page: int = 1, size: int = 20) -> GroupPage:
    """One page of groups, the largest first (then by representative id, for a stable order). Only the
    MAX_DEPTH largest are listed: a page past them is empty (`has_next` says where they end)."""
    check_page(page, size)
    start = min((page - 1) * size, MAX_DEPTH)
    response = es.search(index=index, query=without({"term": {"duplicate_representative": True}}, hidden_clause()),
                         sort=[{"duplicate_count": "desc"}, {"sha256": "asc"}], from_=start,
                         size=min(size, MAX_DEPTH - start), source=False, track_total_hits=True)
    ids = [hit["_id"] for hit in response["hits"]["hits"]]
    return GroupPage(groups=groups_by_id(es, index, ids), page=page, size=size,
                     total=response["hits"]["total"]["value"])


def group_of(es: Elasticsearch, index: str, group_id: str) -> Group:
    """One group by its id (the representative's id); ImageNotFound when no such group exists."""
    groups = groups_by_id(es, index, [group_id])
    if not groups:
        raise ImageNotFound(f"no near-duplicate group {group_id}")
    return groups[0]


def groups_by_id(es: Elasticsearch, index: str, group_ids: list[str]) -> list[Group]:
    if not group_ids:
        return []
    response = es.search(index=index, query=without({"terms": {"duplicate_group": group_ids}}, hidden_clause()), size=MAX_MEMBERS,
                         source_includes=[*MEMBER_SOURCE, VECTOR_FIELD], source_exclude_vectors=False,
                         track_total_hits=False)
    by_group: dict[str, list[dict]] = {}
    for hit in response["hits"]["hits"]:
        by_group.setdefault(hit["_source"]["duplicate_group"], []).append(hit)
    return [_group(group_id, by_group[group_id]) for group_id in group_ids if group_id in by_group]


def _group(group_id: str, hits: list[dict]) -> Group:
    vectors = {h["_id"]: np.asarray(h["_source"].pop(VECTOR_FIELD, None) or (), dtype=np.float32) for h in hits}
    anchor = vectors.get(group_id)
    members = []
    for hit in hits:
        vector = vectors[hit["_id"]]
        similarity = _cosine(anchor, vector) if anchor is not None else float("nan")
        members.append(Member(id=hit["_id"], source=hit["_source"], similarity=round(similarity, 4),
                              representative=hit["_id"] == group_id))
    members.sort(key=lambda m: (not m.representative, -m.similarity, m.id))
    return Group(id=group_id, members=members)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    if a.size == 0 or a.shape != b.shape:
        return float("nan")
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / denominator if denominator else float("nan")
