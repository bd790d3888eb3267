"""What a reader does not see: images a watchlist holds for review (es_search/watchlists/), until released; and,
for a request made with a scoped API key, every image outside the key's filter (`department=radiology`).

Every search body the search service sends goes through `visible_only` (the kNN filter, the query, facets
and browse alike), and a document read by id is checked with `is_hidden`; the near-duplicate and people
listings leave hidden images out the same way (`hidden_clause`). The scope is the current request's
(`scope_to`, a context variable the web app sets from the key and resets after the request), so no code path
between the request and Elasticsearch can forget it. Pure: bodies in, bodies out.
"""

from __future__ import annotations

import contextvars
import copy
from collections.abc import Mapping, Sequence

HELD = {"term": {"watchlist_status": "held"}}
# field → the values a document must hold one of (a key's filter); None: the request sees every image.
_scope: contextvars.ContextVar[Mapping[str, tuple[str, ...]] | None] = contextvars.ContextVar("scope", default=None)


def scope_to(fields: Mapping[str, Sequence[str]] | None) -> contextvars.Token:
    """Limit what this context (a request) sees to documents whose `field` holds one of the values, for every
    field given; returns the token that `end_scope` takes."""
    return _scope.set({field: tuple(values) for field, values in fields.items()} if fields else None)


def end_scope(token: contextvars.Token) -> None:
    _scope.reset(token)


def current_scope() -> Mapping[str, tuple[str, ...]] | None:
    return _scope.get()


def hidden_clause() -> dict:
    """What is hidden from this context: held images, and images outside its scope."""
    scope = _scope.get()
    if not scope:
        return HELD
    outside = [{"bool": {"must_not": [{"terms": {field: list(values)}}]}} for field, values in scope.items()]
    return {"bool": {"should": [HELD, *outside], "minimum_should_match": 1}}


def visible_only(body: dict) -> dict:
    """`body` (a kNN, keyword, browse or aggregation search) with hidden images left out."""
    return excluding(body, hidden_clause())


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
    """Whether a document read by id must be answered as not found: held, or outside this context's scope."""
    if not source:
        return False
    return source.get("watchlist_status") == "held" or not in_scope(source)


def visibility_fields() -> list[str]:
    """The fields `is_hidden` reads: a partial read of a document must include them."""
    return ["watchlist_status", *(_scope.get() or {})]


def in_scope(source: Mapping, scope: Mapping[str, Sequence[str]] | None = None) -> bool:
    """Whether a document (or a new document's fields) lies inside `scope` (default: this context's)."""
    scope = _scope.get() if scope is None else scope
    for field, allowed in (scope or {}).items():
        value = source.get(field)
        values = value if isinstance(value, list) else [value]
        if not any(str(v) in allowed for v in values if v is not None):
            return False
    return True
