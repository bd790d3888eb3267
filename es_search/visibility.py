"""What no reader sees: images a watchlist holds for review (es_search/watchlists/), until released.

Every search body the search service sends goes through `visible_only` (the kNN filter, the query, facets
and browse alike), and a document read by id is checked with `is_hidden`; the near-duplicate and people
passes leave held images out the same way. Pure: bodies in, bodies out.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

HELD = {"term": {"watchlist_status": "held"}}


def visible_only(body: dict) -> dict:
    """`body` (a kNN, keyword, browse or aggregation search) with held images left out."""
    return excluding(body, HELD)


def excluding(body: dict, clause: dict) -> dict:
    """`body` with the documents matching `clause` left out: inside the kNN's filter (pre-filtering, so
    pages stay full), and in the query when there is one (or as the query, for a search that has neither)."""
    body = copy.deepcopy(body)
    if "knn" in body:
        body["knn"]["filter"] = without(body["knn"].get("filter"), clause)
    if "query" in body or "knn" not in body:
        body["query"] = without(body.get("query"), clause)
    return body


def without(query: dict | list | None, clause: dict) -> dict:
    """A bool query: `query` (if any) as it was, scoring included (a keyword search ranks by it), and `clause`
    excluded."""
    if query is None:
        return {"bool": {"must_not": [clause]}}
    if isinstance(query, list):
        return {"bool": {"must": query, "must_not": [clause]}}
    return {"bool": {"must": [query], "must_not": [clause]}}


def is_hidden(source: Mapping | None) -> bool:
    """Whether a document read by id must be answered as not found."""
    return bool(source) and source.get("watchlist_status") == "held"
