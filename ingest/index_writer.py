"""Index stage: documents and bulk actions (pure), and the few Elasticsearch calls the ingest makes.

The document id is the SHA-256 of the file bytes, so the same content under several names is one document
whose `paths` lists every name. New documents use `create`, never `index`: a document is never overwritten,
and a conflict means someone indexed the content first, so we only add our path to it.
Paths are merged with a partial `doc` update guarded by `if_seq_no` (optimistic concurrency): no scripts.
`relative_path` follows `paths` item for item (each path relative to its image root), so every write of
`paths` writes it too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
from elasticsearch import ConflictError, Elasticsearch, helpers

from es_search.index import VECTOR_FIELD
from es_search.paths import relative_path
from ingest.prepare import PreparedImage

MGET_CHUNK = 500
BULK_MAX_RETRIES = 6  # 429 backoff 1, 2, 4, 8, 16, 30 s: about a minute of patience for a busy cluster
BULK_INITIAL_BACKOFF = 1.0
BULK_MAX_BACKOFF = 30.0
MERGE_ATTEMPTS = 10


@dataclass(frozen=True)
class ExistingDoc:
    """What we need to know of an indexed document to add a path to it safely."""

    paths: list[str]
    seq_no: int
    primary_term: int
    relative_paths: list[str] = field(default_factory=list)  # as stored, item for item with `paths`

    def known_relative(self) -> dict[str, str]:
        """Stored relative path by path; empty when the document predates the field or the lists disagree."""
        if len(self.relative_paths) != len(self.paths):
            return {}
        return dict(zip(self.paths, self.relative_paths, strict=True))


def title_from_file_name(path: str) -> str:
    """'sunset_at-the.beach.jpg' → 'sunset at the beach': a searchable title when nothing better is known."""
    stem = os.path.splitext(os.path.basename(path))[0]
    return re.sub(r"[\s_.\-]+", " ", stem).strip() or stem


def iso_utc(timestamp_ns: int | None = None) -> str:
    """A UTC ISO-8601 time from nanoseconds since the epoch (default: now)."""
    if timestamp_ns is None:
        moment = datetime.now(timezone.utc)
    else:
        moment = datetime.fromtimestamp(timestamp_ns / 1e9, tz=timezone.utc)
    return moment.isoformat(timespec="seconds")


def relative_paths_for(paths: Sequence[str], roots: Sequence[str], known: Mapping[str, str] | None = None) -> list[str]:
    """`relative_path` for each of `paths`, in order: relative to the deepest of `roots` holding it.

    A path no root of this run holds keeps the relative path stored earlier (`known`), if any: a later run
    over another folder must not turn an earlier run's relative path back into a full one.
    """
    result = []
    for path in paths:
        relative = relative_path(path, roots)
        if relative == path and known and path in known:
            relative = known[path]
        result.append(relative)
    return result


def build_document(prepared: PreparedImage, paths: Sequence[str], vector: np.ndarray, model: str,
                   category: tuple[str, float] | None = None, extra: dict | None = None,
                   indexed_at: str | None = None, roots: Sequence[str] = ()) -> dict:
    """The `_source` of a new image document (fields of mappings/fields.json); `extra` may set title/caption/tags.

    `roots` are the image roots `relative_path` is computed against (absolute, like the paths).
    """
    facts = prepared.facts
    paths = list(dict.fromkeys(paths))  # the same file named twice (overlapping sources) is one path
    doc = {
        "sha256": facts.sha256,
        "image_id": facts.sha256,  # the document's _id (see create_action), as a field searches can return
        "paths": paths,
        "relative_path": relative_paths_for(paths, roots),
        "file_name": os.path.basename(paths[0]),
        "title": title_from_file_name(paths[0]),
        "color_scheme": prepared.colors.color_scheme,
        "dominant_colors": prepared.colors.dominant_colors,
        "brightness": prepared.colors.brightness,
        "saturation": prepared.colors.saturation,
        "width": prepared.width,
        "height": prepared.height,
        "format": prepared.format,
        "byte_size": facts.size,
        "phash": prepared.phash,
        "thumbnail": prepared.thumbnail,
        "file_modified_at": iso_utc(facts.mtime_ns),
        "indexed_at": indexed_at or iso_utc(),
        "model": model,
        VECTOR_FIELD: [round(float(x), 7) for x in vector],
    }
    if prepared.taken_at:
        doc["taken_at"] = prepared.taken_at
    if category is not None:
        doc["category"], doc["category_score"] = category
    for key in ("title", "caption", "tags"):
        if extra and extra.get(key):
            doc[key] = list(extra[key]) if key == "tags" else str(extra[key])
    return doc


def create_action(alias: str, doc: dict) -> dict:
    """A bulk `create`: fails with 409 instead of overwriting when the content is already indexed."""
    return {"_op_type": "create", "_index": alias, "_id": doc["sha256"], "_source": doc}


def merged_paths(current: Sequence[str], new: Iterable[str]) -> list[str]:
    """`current` followed by the new paths it lacks, order kept, no repeats."""
    merged = list(current)
    seen = set(merged)
    for path in new:
        if path not in seen:
            seen.add(path)
            merged.append(path)
    return merged


def paths_update(existing: ExistingDoc, new_paths: Iterable[str], roots: Sequence[str] = ()) -> dict:
    """The partial document adding `new_paths`: the merged `paths` and the `relative_path` list that matches it."""
    merged = merged_paths(existing.paths, new_paths)
    return {"paths": merged, "relative_path": relative_paths_for(merged, roots, existing.known_relative())}


def add_paths_action(alias: str, sha256: str, existing: ExistingDoc, new_paths: Iterable[str],
                     roots: Sequence[str] = ()) -> dict:
    """A bulk partial update writing the merged path list, valid only if the document did not change since read."""
    return {"_op_type": "update", "_index": alias, "_id": sha256, "if_seq_no": existing.seq_no,
            "if_primary_term": existing.primary_term, "doc": paths_update(existing, new_paths, roots)}


def fetch_existing(es: Elasticsearch, alias: str, ids: Iterable[str]) -> dict[str, ExistingDoc]:
    """Which of these content hashes are indexed, with their paths (realtime GETs: sees unrefreshed writes)."""
    ids = list(dict.fromkeys(ids))
    found: dict[str, ExistingDoc] = {}
    for start in range(0, len(ids), MGET_CHUNK):
        response = es.mget(index=alias, ids=ids[start:start + MGET_CHUNK], source_includes=_PATH_FIELDS)
        for doc in response["docs"]:
            if doc.get("found"):
                found[doc["_id"]] = _existing(doc)
    return found


_PATH_FIELDS = ["paths", "relative_path"]


def _existing(doc: dict) -> ExistingDoc:
    source = doc["_source"]
    return ExistingDoc(paths=list(source.get("paths", [])), seq_no=doc["_seq_no"], primary_term=doc["_primary_term"],
                       relative_paths=list(source.get("relative_path", [])))


def add_paths(es: Elasticsearch, alias: str, sha256: str, new_paths: Iterable[str], roots: Sequence[str] = ()) -> bool:
    """Read, merge, write back with if_seq_no until no one else wrote in between. True when paths were added."""
    new_paths = list(new_paths)
    for _ in range(MERGE_ATTEMPTS):
        existing = _existing(es.get(index=alias, id=sha256, source_includes=_PATH_FIELDS))
        update = paths_update(existing, new_paths, roots)
        if update["paths"] == existing.paths:
            return False
        try:
            es.update(index=alias, id=sha256, doc=update, if_seq_no=existing.seq_no,
                      if_primary_term=existing.primary_term)
            return True
        except ConflictError:
            continue  # another writer got there first: read again
    raise RuntimeError(f"could not add paths to {sha256} after {MERGE_ATTEMPTS} attempts (constant conflicts)")


def send_bulk(es: Elasticsearch, actions: list[dict]) -> Iterator[tuple[bool, str, dict]]:
    """Send one chunk; (ok, op_type, item) for every action once Elasticsearch answered for it.

    429 answers are retried with exponential backoff; other per-document errors come back as not ok;
    a cluster that cannot be reached raises (elasticsearch.ConnectionError / ApiError) so the run stops.
    """
    for ok, result in helpers.streaming_bulk(
        es, actions, chunk_size=max(1, len(actions)), max_retries=BULK_MAX_RETRIES,
        initial_backoff=BULK_INITIAL_BACKOFF, max_backoff=BULK_MAX_BACKOFF, raise_on_error=False,
        raise_on_exception=True,
    ):
        op_type, item = result.popitem()
        yield ok, op_type, item


def paths_removal(existing: ExistingDoc, gone: Iterable[str]) -> dict | None:
    """The partial document taking `gone` off a document's paths, or None when no path would be left."""
    gone = set(gone)
    known = existing.known_relative()
    kept = [path for path in existing.paths if path not in gone]
    if not kept:
        return None
    return {"paths": kept, "relative_path": [known.get(path, path) for path in kept]}


def remove_paths(es: Elasticsearch, alias: str, doc_id: str, gone: Iterable[str]) -> str:
    """Take paths off a document, deleting it when none is left: "deleted", "updated" or "absent".

    Read, change, write with if_seq_no until no one else wrote in between, like `add_paths`.
    """
    gone = list(gone)
    for _ in range(MERGE_ATTEMPTS):
        response = es.options(ignore_status=404).get(index=alias, id=doc_id, source_includes=_PATH_FIELDS)
        if not response.get("found"):
            return "absent"
        existing = _existing(response)
        if not set(gone) & set(existing.paths):
            return "absent"
        update = paths_removal(existing, gone)
        try:
            if update is None:
                es.delete(index=alias, id=doc_id, if_seq_no=existing.seq_no, if_primary_term=existing.primary_term)
                return "deleted"
            es.update(index=alias, id=doc_id, doc=update, if_seq_no=existing.seq_no,
                      if_primary_term=existing.primary_term)
            return "updated"
        except ConflictError:
            continue
    raise RuntimeError(f"could not remove paths from {doc_id} after {MERGE_ATTEMPTS} attempts (constant conflicts)")
