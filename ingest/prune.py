"""Sync: take out of the index what a source no longer holds, and nothing of any other source.

A source's documents are found two ways:
- a folder or an S3 prefix owns the *locations* under it: every document with a path under it is looked
  at, the paths under it that the run did not meet are taken off, and a document left with no path is
  deleted. Paths elsewhere (another folder holding a copy) are never touched;
- a records file owns the documents whose `sources` name it (record ids can point anywhere): a document
  whose id and locations the run did not meet loses this source, and is deleted when it had no other.
What "the run met" is the `SeenKeys` of a run that completed: the runner never prunes after an
interrupted or failed run, and a folder walk that could not read some folder refuses to prune, since
its files would look deleted.

`find_stale` only reads (it is the whole of `--prune --dry-run`); `apply_changes` writes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from elasticsearch import ConflictError, Elasticsearch, helpers

from ingest.index_io import remove_paths
from ingest.seen import SeenKeys

SCAN_PAGE = 500


@dataclass(frozen=True)
class PruneScope:
    """`kind` "location": documents with paths under `value` (a folder or s3://bucket/prefix/);
    "records": documents whose `sources` hold `value` (a records file's source name)."""

    kind: str
    value: str

    @classmethod
    def folder(cls, folder: str) -> PruneScope:
        return cls("location", os.path.join(os.path.abspath(folder), ""))

    def query(self) -> dict:
        if self.kind == "location":
            return {"prefix": {"paths": self.value}}
        return {"term": {"sources": self.value}}

    def owns(self, path: str) -> bool:
        return self.kind == "location" and path.startswith(self.value)


@dataclass(frozen=True)
class PruneChange:
    """One document a prune changes: deleted, or some paths / this source taken off it."""

    doc_id: str
    delete: bool
    gone_paths: tuple[str, ...] = ()
    drop_source: str | None = None

    def describe(self) -> str:
        if self.delete:
            return f"delete {self.doc_id}" + (f" ({', '.join(self.gone_paths)})" if self.gone_paths else "")
        if self.gone_paths:
            return f"take off {self.doc_id}: {', '.join(self.gone_paths)}"
        return f"take source {self.drop_source} off {self.doc_id}"


def decide(doc_id: str, paths: Sequence[str], sources: Sequence[str], scope: PruneScope,
           missing_ids: set[str], missing_paths: set[str], id_less: bool = False) -> PruneChange | None:
    """Pure: what a prune does to one document of the scope, given what the run did not meet.

    `id_less`: a records document whose id is its content hash (rows without ids); its rows are known by
    their locations too, so a row whose image failed to download this time does not look removed.
    """
    if scope.kind == "location":
        gone = tuple(p for p in paths if scope.owns(p) and p in missing_paths)
        if not gone:
            return None
        return PruneChange(doc_id, delete=len(gone) == len(set(paths)), gone_paths=gone)
    if doc_id not in missing_ids or (id_less and not set(paths) <= missing_paths):
        return None  # its record is still in the file
    if [s for s in sources if s != scope.value]:
        return PruneChange(doc_id, delete=False, drop_source=scope.value)
    return PruneChange(doc_id, delete=True, gone_paths=tuple(paths))


def find_stale(es: Elasticsearch, alias: str, scope: PruneScope, seen: SeenKeys) -> Iterator[PruneChange]:
    """Every change a prune of `scope` makes, given what the run met; reads only."""
    page: list[dict] = []
    hits = helpers.scan(es, index=alias, query={"query": scope.query(), "_source": ["paths", "sources", "sha256"]},
                        size=SCAN_PAGE, preserve_order=False)
    for hit in hits:
        page.append(hit)
        if len(page) >= SCAN_PAGE:
            yield from _decide_page(page, scope, seen)
            page = []
    yield from _decide_page(page, scope, seen)


def _decide_page(page: list[dict], scope: PruneScope, seen: SeenKeys) -> Iterator[PruneChange]:
    if not page:
        return
    all_paths = [p for hit in page for p in hit["_source"].get("paths") or []]
    missing_paths = seen.missing("loc", all_paths)
    missing_ids = seen.missing("id", [hit["_id"] for hit in page]) if scope.kind == "records" else set()
    for hit in page:
        source = hit["_source"]
        change = decide(hit["_id"], source.get("paths") or [], source.get("sources") or [], scope, missing_ids,
                        missing_paths, id_less=hit["_id"] == source.get("sha256"))
        if change is not None:
            yield change


def apply_changes(es: Elasticsearch, alias: str, changes: Iterator[PruneChange]) -> tuple[int, int]:
    """Make the changes; returns (documents deleted, paths taken off documents that keep others)."""
    deleted = paths_removed = 0
    for change in changes:
        if change.drop_source:
            _drop_source(es, alias, change.doc_id, change.drop_source)
            continue
        if change.delete and not change.gone_paths:
            es.options(ignore_status=404).delete(index=alias, id=change.doc_id)
            deleted += 1
            continue
        outcome = remove_paths(es, alias, change.doc_id, change.gone_paths)
        if outcome == "deleted":
            deleted += 1
        elif outcome == "updated":
            paths_removed += len(change.gone_paths)
    return deleted, paths_removed


def _drop_source(es: Elasticsearch, alias: str, doc_id: str, source: str) -> None:
    for _ in range(10):
        doc = es.options(ignore_status=404).get(index=alias, id=doc_id, source_includes=["sources"])
        if not doc.get("found"):
            return
        sources = [s for s in doc["_source"].get("sources") or [] if s != source]
        try:
            es.update(index=alias, id=doc_id, doc={"sources": sources}, if_seq_no=doc["_seq_no"],
                      if_primary_term=doc["_primary_term"])
            return
        except ConflictError:
            continue
