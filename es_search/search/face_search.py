"""Search by a face (以图搜人): every face of the query image is matched against every indexed face; the
answer is images ranked by their best-matching face (the smallest distance), each with that face's box.
The filters of an image search apply (camera, place, dates...), inside the kNN search.

The threshold is the grouping's (IMGSEARCH_FACE_MATCH_DISTANCE, 0.6): Elasticsearch's kNN `similarity`
drops faces farther than it, so the answer holds matches only, never a ranking of strangers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from elasticsearch import Elasticsearch

from es_search.errors import QueryError
from es_search.faces.engine import Face
from es_search.faces.store import FACE_VECTOR, distance_from_score
from es_search.fields import HIDDEN_FIELDS, FieldRegistry
from es_search.search.appearances import group_by_video
from es_search.search.bodies import MAX_NUM_CANDIDATES
from es_search.search.filters import SearchFilters, build_filter
from es_search.visibility import visible_only


@dataclass(frozen=True)
class FaceHit:
    """An image with a face like one of the query's: its best face's box, person and distance, and which
    query face it matched (0-based, in the order `FaceSearchResult.query_faces` lists them)."""

    id: str
    distance: float
    box: list[float]
    person: str | None
    query_face: int
    source: dict


@dataclass
class FaceSearchResult:
    query_faces: list[Face]
    threshold: float  # IMGSEARCH_FACE_MATCH_DISTANCE
    hits: list[FaceHit] = field(default_factory=list)
    page: int = 1
    size: int = 24
    has_next: bool = False
    groups: list | None = None  # group=video: the page's VideoGroups (search/appearances.py), one per hit

    @property
    def compared_faces(self) -> int:
        return sum(face.comparable for face in self.query_faces)


def face_search_body(vector: Sequence[float], depth: int, threshold: float, filters: SearchFilters,
                     registry: FieldRegistry | None, exclude_ids: Sequence[str] = ()) -> dict:
    """Pure: the nested kNN body for one query face, `depth` images deep, the filters inside the kNN."""
    knn: dict = {"field": FACE_VECTOR, "query_vector": [float(x) for x in vector], "k": depth,
                 "num_candidates": min(MAX_NUM_CANDIDATES, max(depth * 4, 100)), "similarity": threshold,
                 "inner_hits": {"size": 1, "_source": ["faces.box", "faces.person"]}}
    query_filter = build_filter(filters, exclude_ids, registry)
    if query_filter is not None:
        knn["filter"] = query_filter
    return visible_only({"knn": knn, "size": depth, "_source": {"excludes": list(HIDDEN_FIELDS)},
                         "track_total_hits": False})


def best_per_image(answers: Sequence[Sequence[dict]]) -> list[FaceHit]:
    """Pure: the hits of each query face's answer merged, each image once with its closest face, closest
    first (ties by id, so pages are stable)."""
    best: dict[str, FaceHit] = {}
    for query_face, hits in enumerate(answers):
        for hit in hits:
            inner = (hit.get("inner_hits", {}).get("faces", {}).get("hits", {}).get("hits") or [None])[0]
            if inner is None:
                continue
            distance = round(distance_from_score(inner["_score"]), 6)
            face = inner.get("_source") or {}
            candidate = FaceHit(hit["_id"], distance, face.get("box") or [], face.get("person"), query_face,
                                hit.get("_source") or {})
            if hit["_id"] not in best or distance < best[hit["_id"]].distance:
                best[hit["_id"]] = candidate
    return sorted(best.values(), key=lambda h: (h.distance, h.id))


def search_faces(es: Elasticsearch, index: str, faces: list[Face], *, threshold: float, filters: SearchFilters,
                 registry: FieldRegistry | None, page: int = 1, size: int = 24, max_depth: int = 1000,
                 exclude_ids: Sequence[str] = (), group: str | None = None, gap: float = 5.0) -> FaceSearchResult:
    """Images with a face like one of `faces` (those without a descriptor are listed, not searched).
    `group="video"`: the `max_depth` closest frames folded by video (frames `gap` seconds apart or closer are
    one appearance), and a page is a page of those groups."""
    if page < 1 or size < 1:
        raise QueryError("page and size must be 1 or more")
    result = FaceSearchResult(faces, page=page, size=size, threshold=threshold)
    depth = max_depth if group == "video" else page * size + 1
    if group != "video" and (page - 1) * size >= max_depth:
        return result  # past the closest `max_depth` images a page is empty, as a search's is
    depth = min(depth, max_depth + 1)
    comparable = [face for face in faces if face.comparable]
    if not comparable:
        return result
    searches: list[dict] = []
    for face in comparable:
        searches += [{}, face_search_body(face.vector, depth, threshold, filters, registry, exclude_ids)]
    responses = es.msearch(index=index, searches=searches)["responses"]
    for response in responses:
        if "error" in response:
            raise QueryError(f"the face search failed: {response['error'].get('reason', response['error'])}")
    # query_face numbers count the query's faces as listed, the uncomparable ones included
    numbers = [n for n, face in enumerate(faces) if face.comparable]
    merged = best_per_image([r["hits"]["hits"] for r in responses])
    merged = [FaceHit(h.id, h.distance, h.box, h.person, numbers[h.query_face], h.source) for h in merged]
    offset = (page - 1) * size
    if group == "video":
        groups = group_by_video(merged, gap=gap, source=lambda hit: hit.source, hit_id=lambda hit: hit.id)
        result.groups = groups[offset:offset + size]
        result.hits = [g.best for g in result.groups]
        result.has_next = len(groups) > offset + size
        return result
    result.hits = merged[offset:offset + size]
    result.has_next = len(merged) > offset + size
    return result
