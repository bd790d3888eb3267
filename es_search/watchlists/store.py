"""The watchlists index (`<alias>-watchlists`): one document per list, two per reference image (as itself and
mirrored). An index of its own, so a reference is never a search result, and a list's kNN is small.

The vector field takes its dimensions from the first reference written, so any image model fits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from elasticsearch import Elasticsearch, NotFoundError, helpers

from es_search.errors import WatchlistExists, WatchlistNotFound
from es_search.values import now_text
from es_search.watchlists.lists import Watchlist, check_name

REFERENCE_VECTOR = "vector"
MAPPING = {
    "dynamic": "strict",
    "properties": {
        "kind": {"type": "keyword"},  # list or reference
        "list": {"type": "keyword"},
        "policy": {"type": "keyword"},
        "similarity": {"type": "float"},
        "phash_distance": {"type": "integer"},
        "description": {"type": "text"},
        "prompts": {"type": "object", "enabled": False},
        "created_at": {"type": "date"},
        "reference": {"type": "keyword"},  # the reference image's content hash
        "orientation": {"type": "keyword"},  # as_is or mirrored
        "name": {"type": "keyword"},
        "location": {"type": "keyword", "index": False},
        "thumbnail": {"type": "keyword", "index": False},
        "phashes": {"type": "keyword", "index": False},
        "added_at": {"type": "date"},
        REFERENCE_VECTOR: {"type": "dense_vector", "index": True, "similarity": "cosine",
                           "index_options": {"type": "hnsw", "m": 16, "ef_construction": 100}},
    },
}
LIST_QUERY = {"term": {"kind": "list"}}
MAX_LISTS = 1000
PAGE = 500


def watchlists_index(alias: str) -> str:
    return f"{alias}-watchlists"


def reference_doc_id(name: str, reference: str, orientation: str) -> str:
    return f"{name}:{reference}:{orientation}"


class WatchlistStore:
    """Lists and references of the image index behind `alias`."""

    def __init__(self, es: Elasticsearch, alias: str):
        self.es, self.alias = es, alias
        self.index = watchlists_index(alias)

    def ensure(self) -> None:
        if not self.es.indices.exists(index=self.index):
            # One shard (a small index), a copy on a second node where there is one: every ingest needs it.
            # 400: another process created it first.
            self.es.options(ignore_status=400).indices.create(
                index=self.index, mappings=MAPPING, settings={"number_of_shards": 1, "auto_expand_replicas": "0-1"})

    # ------------------------------------------------------------------ lists

    def lists(self) -> dict[str, Watchlist]:
        """Every list by name; none when the index does not exist yet."""
        try:
            response = self.es.search(index=self.index, query=LIST_QUERY, size=MAX_LISTS)
        except NotFoundError:
            return {}
        return {hit["_source"]["list"]: Watchlist.from_source(hit["_source"]) for hit in response["hits"]["hits"]}

    def get(self, name: str) -> Watchlist:
        found = self.lists().get(check_name(name))
        if found is None:
            raise WatchlistNotFound(f"no watchlist is named {name!r}")
        return found

    def save(self, watchlist: Watchlist, *, create: bool) -> Watchlist:
        """Write a list: a new one (`create`: one of that name already there is WatchlistExists), or a change
        of one (none of that name is WatchlistNotFound)."""
        self.ensure()
        existing = self.lists().get(watchlist.name)
        if create and existing is not None:
            raise WatchlistExists(f"a watchlist named {watchlist.name!r} exists already")
        if not create and existing is None:
            raise WatchlistNotFound(f"no watchlist is named {watchlist.name!r}")
        watchlist = replace(watchlist, created_at=existing.created_at if existing else now_text())
        self.es.index(index=self.index, id=f"list:{watchlist.name}", document=watchlist.to_source(), refresh=True)
        return watchlist

    def delete(self, name: str) -> int:
        """Delete a list and its references; returns how many reference images went. The documents it matched
        keep their status until reviewed or scanned again."""
        self.get(name)
        references = self.reference_count(name)
        self._delete_where({"term": {"list": name}})
        return references

    # ------------------------------------------------------------------ references

    def add_references(self, docs: Iterable[dict]) -> int:
        """Write reference documents (ingest/watchlist_refs.py makes them); returns how many."""
        self.ensure()
        actions = ({"_index": self.index, "_id": reference_doc_id(d["list"], d["reference"], d["orientation"]),
                    "_source": d} for d in docs)
        written, _ = helpers.bulk(self.es, actions, refresh="wait_for", chunk_size=PAGE)
        return written

    def reference_count(self, name: str | None = None) -> int:
        query: dict = {"bool": {"filter": [{"term": {"kind": "reference"}}, {"term": {"orientation": "as_is"}}]}}
        if name is not None:
            query["bool"]["filter"].append({"term": {"list": name}})
        try:
            return self.es.count(index=self.index, query=query)["count"]
        except NotFoundError:
            return 0

    def reference_counts(self) -> dict[str, int]:
        try:
            response = self.es.search(index=self.index, size=0, query={"term": {"orientation": "as_is"}},
                                      aggs={"lists": {"terms": {"field": "list", "size": MAX_LISTS}}})
        except NotFoundError:
            return {}
        return {b["key"]: b["doc_count"] for b in response["aggregations"]["lists"]["buckets"]}

    def reference(self, name: str, reference: str) -> dict:
        try:
            return self.es.get(index=self.index, id=reference_doc_id(name, reference, "as_is"),
                               source_excludes=[REFERENCE_VECTOR, "phashes"])["_source"]
        except NotFoundError:
            raise WatchlistNotFound(f"watchlist {name!r} has no reference {reference!r}") from None

    def references_by_id(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict]:
        """{(list, reference): its document} for those that exist (both orientations share one entry)."""
        if not pairs:
            return {}
        ids = [reference_doc_id(name, ref, "as_is") for name, ref in dict.fromkeys(pairs)]
        try:
            docs = self.es.mget(index=self.index, ids=ids, source_excludes=[REFERENCE_VECTOR, "phashes"])["docs"]
        except NotFoundError:
            return {}
        return {(d["_source"]["list"], d["_source"]["reference"]): d["_source"] for d in docs if d.get("found")}

    def remove_references(self, name: str, references: Sequence[str]) -> int:
        """Take reference images off a list; returns how many were there."""
        self.get(name)
        query = {"bool": {"filter": [{"term": {"list": name}}, {"terms": {"reference": list(references)}},
                                     {"term": {"kind": "reference"}}]}}
        return self._delete_where(query) // 2

    def _delete_where(self, query: dict) -> int:
        """Delete the documents `query` finds (a scan and a bulk: _delete_by_query is a module a cluster may
        lack); returns how many."""
        ids = [hit["_id"] for hit in helpers.scan(self.es, index=self.index, query={"query": query, "_source": False},
                                                  size=PAGE)]
        actions = ({"_op_type": "delete", "_index": self.index, "_id": doc_id} for doc_id in ids)
        deleted, _ = helpers.bulk(self.es, actions, refresh=True, raise_on_error=False, chunk_size=PAGE)
        return deleted
