"""Documents for records (pure): what the pixels give, once per content, joined with what each record sets.

A content's derived part (vector, colours, size, hashes, thumbnail, category) is computed once per run
and may serve several records (the same image under two ids is encoded once). A record's part is its
id, location(s), source and fields. `plan_record` decides, from the document already indexed under the
record's id, whether a record needs nothing, a partial update (same bytes: no decode, no encode), or its
content encoded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from es_search.fields import VECTOR_FIELD
from ingest.index_writer import build_document, iso_utc, relative_paths_for, title_from_file_name
from ingest.prepare import PreparedImage
from ingest.records import Record

# Keys of a built document that belong to its locations or its record, not to its content.
_RECORD_KEYS = ("paths", "relative_path", "file_name", "title", "image_id", "indexed_at")
# What the pipeline derives from the bytes: what a document of the same content already indexed can lend.
CONTENT_KEYS = ("sha256", "color_scheme", "dominant_colors", "brightness", "saturation", "width", "height", "format",
                "byte_size", "phash", "thumbnail", "taken_at", "file_modified_at", "category", "category_score",
                "model", VECTOR_FIELD)


@dataclass(frozen=True)
class IndexedRecord:
    """What the index holds under a document id, as far as deciding what to write needs."""

    sha256: str
    digest: str | None
    paths: list[str]
    sources: list[str]
    relative_paths: list[str]
    seq_no: int
    primary_term: int


def content_fields(prepared: PreparedImage, vector: np.ndarray, model: str,
                   category: tuple[str, float] | None) -> dict:
    """The part of a document that comes from the image bytes alone."""
    doc = build_document(prepared, [prepared.facts.path], vector, model, category)
    for key in _RECORD_KEYS:
        doc.pop(key, None)
    if not prepared.facts.mtime_ns:  # a URL tells no modification time: better none than 1970
        doc.pop("file_modified_at", None)
    return doc


def record_fields(record: Record, paths: Sequence[str], roots: Sequence[str],
                  known_relative: Mapping[str, str] | None = None) -> dict:
    """What a record sets: its locations and the fields it has columns for (None clears one)."""
    values = dict(record.fields)
    if "title" in values and not values["title"]:
        values["title"] = title_from_file_name(record.location)
    return {
        **values,
        "paths": list(paths),
        "relative_path": relative_paths_for(paths, roots, known_relative),
        "file_name": os.path.basename(record.location.rstrip("/")) or record.location,
        "record_digest": record.digest,
    }


def new_document(content: Mapping, record: Record, doc_id: str, source: str, paths: Sequence[str],
                 roots: Sequence[str], sources: Sequence[str] = ()) -> dict:
    """A whole document for a record (new, or replacing one whose image changed)."""
    doc = {**content, "title": title_from_file_name(record.location), **record_fields(record, paths, roots),
           "image_id": doc_id,
           "sources": merged(sources, [source]), "indexed_at": iso_utc()}
    return {key: value for key, value in doc.items() if value is not None}


def update_document(record: Record, indexed: IndexedRecord, source: str, paths: Sequence[str],
                    roots: Sequence[str]) -> dict:
    """The partial document for a record whose image bytes are unchanged: fields, locations, source."""
    known = dict(zip(indexed.paths, indexed.relative_paths, strict=False)) \
        if len(indexed.paths) == len(indexed.relative_paths) else {}
    return {**record_fields(record, paths, roots, known), "sources": merged(indexed.sources, [source]),
            "indexed_at": iso_utc()}


def content_from_document(source: Mapping, model: str) -> dict | None:
    """The content part of an indexed document (its `_source` with the vector), or None when it was made by
    another model or lacks its vector: then the image is encoded again."""
    if source.get("model") != model or not source.get(VECTOR_FIELD):
        return None
    return {key: source[key] for key in CONTENT_KEYS if source.get(key) is not None}


def merged(current: Sequence[str], new: Sequence[str]) -> list[str]:
    return list(dict.fromkeys([*current, *new]))


def plan_record(record: Record, sha256: str, indexed: IndexedRecord | None, source: str) -> str:
    """"unchanged" (nothing to write), "update" (same bytes: write the record's part) or "encode"."""
    if indexed is None or indexed.sha256 != sha256:
        return "encode"
    if indexed.digest == record.digest and source in indexed.sources and record.location in indexed.paths:
        return "unchanged"
    return "update"


def indexed_record(doc: dict) -> IndexedRecord:
    """An IndexedRecord from an mget/get answer that found the document."""
    source = doc.get("_source", {})
    return IndexedRecord(sha256=source.get("sha256", ""), digest=source.get("record_digest"),
                         paths=list(source.get("paths") or []), sources=list(source.get("sources") or []),
                         relative_paths=list(source.get("relative_path") or []), seq_no=doc["_seq_no"],
                         primary_term=doc["_primary_term"])


RECORD_SOURCE_FIELDS = ["sha256", "record_digest", "paths", "sources", "relative_path"]
