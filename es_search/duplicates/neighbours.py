"""Finding near-duplicate pairs: one small-k kNN query per image, many images per `_msearch` request.

`neighbour_search` builds one query body (pure); `confirmed_edges` sends a batch and keeps the pairs the
perceptual hash confirms. The kNN `similarity` parameter drops everything below the threshold inside
Elasticsearch, so a batch answer holds only candidates, never whole rankings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from elasticsearch import Elasticsearch

from es_search.duplicates.grouping import Thresholds, confirmed
from es_search.fields import VECTOR_FIELD
from es_search.visibility import HELD, without

NEIGHBOUR_SOURCE = ["phash"]
CANDIDATES_PER_NEIGHBOUR = 10  # num_candidates = k × this (at least MIN_CANDIDATES)
MIN_CANDIDATES = 300  # HNSW isolates some clusters of near-copies: 110 missed 3 % of planted pairs (docs/benchmarks.md)


@dataclass(frozen=True)
class Probe:
    """An image to find near-duplicates of: its id, vector and perceptual hash."""

    id: str
    vector: Sequence[float]
    phash: str | None


@dataclass(frozen=True)
class Edge:
    """A confirmed near-duplicate pair, `a` < `b`, with the cosine similarity of their vectors."""

    a: str
    b: str
    similarity: float


def neighbour_search(probe: Probe, neighbours: int, thresholds: Thresholds) -> dict:
    """The kNN body for one image: its `neighbours` nearest others at or above the similarity threshold."""
    k = neighbours + 1  # the image itself is its own nearest neighbour
    return {
        "knn": {"field": VECTOR_FIELD, "query_vector": [float(x) for x in probe.vector], "k": k,
                "num_candidates": max(k * CANDIDATES_PER_NEIGHBOUR, MIN_CANDIDATES),
                # For cosine, `similarity` is the raw cosine, not Elasticsearch's (1 + cos) / 2 score.
                "similarity": thresholds.similarity,
                "filter": without(None, HELD)},  # an image held for review joins no group
        "size": k,
        "_source": NEIGHBOUR_SOURCE,
        "track_total_hits": False,
    }


def edges_from_hits(probe: Probe, hits: Sequence[Mapping], thresholds: Thresholds) -> list[Edge]:
    """Confirmed pairs from one kNN answer (pure): the image itself left out, the hash checked."""
    edges = []
    for hit in hits:
        other = hit["_id"]
        if other == probe.id:
            continue
        similarity = 2.0 * float(hit["_score"]) - 1.0  # cosine from Elasticsearch's (1 + cos) / 2
        if confirmed(similarity, probe.phash, (hit.get("_source") or {}).get("phash"), thresholds):
            a, b = sorted((probe.id, other))
            edges.append(Edge(a, b, round(similarity, 6)))
    return edges


def confirmed_edges(es: Elasticsearch, index: str, probes: Sequence[Probe], *, neighbours: int,
                    thresholds: Thresholds) -> list[Edge]:
    """Every confirmed pair around `probes`, in one `_msearch` request. A failed search raises."""
    if not probes:
        return []
    searches: list[dict] = []
    for probe in probes:
        searches += [{}, neighbour_search(probe, neighbours, thresholds)]
    responses = es.msearch(index=index, searches=searches)["responses"]
    edges: list[Edge] = []
    for probe, response in zip(probes, responses, strict=True):
        if "error" in response:
            reason = response["error"].get("reason", response["error"]) if isinstance(response["error"], dict) \
                else response["error"]
            raise RuntimeError(f"near-duplicate search for {probe.id} failed: {reason}")
        edges += edges_from_hits(probe, response["hits"]["hits"], thresholds)
    return edges


def probe_from_hit(hit: Mapping) -> Probe:
    source = hit.get("_source") or {}
    return Probe(id=hit["_id"], vector=source.get(VECTOR_FIELD) or (), phash=source.get("phash"))
