"""Document stage (pure): an image document from what the pixels gave and what its item sets.

A document has two parts:
- the *content* part, from the bytes alone (vector, size, format, hashes, thumbnail, every enricher's
  fields): computed once per content in a run, and lent by an indexed document of the same bytes, so the
  same image is never encoded twice;
- the *item* part: its id, locations (`paths`, each with its `relative_path`), file name and title, and for
  a record its fields, its source (`sources`) and its digest.
`plan.py` decides which of them a write needs; this module only builds them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone

import numpy as np

from es_search.dicom.tags import DICOM_FIELDS
from es_search.fields import VECTOR_FIELD
from es_search.paths import relative_path
from ingest.items import Item
from ingest.prepare import PreparedImage

# What every content part holds beside its enrichers' fields (ingest/enrichers: their `fields`).
BASE_CONTENT_KEYS = ("sha256", "width", "height", "format", "byte_size", "thumbnail", "taken_at", "file_modified_at",
                     "model", VECTOR_FIELD, *DICOM_FIELDS)
# Folder files may bring these for a new document (the demo's titles); records set any settable field.
DEFAULT_KEYS = ("title", "caption", "tags")


def content_keys(enrichers: Iterable) -> tuple[str, ...]:
    """The keys of a content part for a run with these enrichers: what an indexed document can lend."""
    return BASE_CONTENT_KEYS + tuple(key for enricher in enrichers for key in enricher.fields)


def content_fields(prepared: PreparedImage, vector: np.ndarray, model: str, extra: Mapping | None = None) -> dict:
    """The part of a document that comes from the image bytes alone; `extra`: the vector enrichers' fields."""
    facts = prepared.facts
    doc = {"sha256": facts.sha256, **prepared.fields, **(extra or {}), "width": prepared.width,
           "height": prepared.height, "format": prepared.format, "byte_size": facts.size,
           "thumbnail": prepared.thumbnail, "model": model, VECTOR_FIELD: [round(float(x), 7) for x in vector]}
    if prepared.taken_at:
        doc["taken_at"] = prepared.taken_at
    if facts.mtime_ns:  # a URL or an upload tells no modification time: better none than 1970
        doc["file_modified_at"] = iso_utc(facts.mtime_ns)
    return doc


def content_from_document(source: Mapping, model: str, keys: Sequence[str]) -> dict | None:
    """The content part of an indexed document (its `_source` with the vector), or None when it was made by
    another model or lacks its vector (then the image is encoded again)."""
    if source.get("model") != model or not source.get(VECTOR_FIELD):
        return None
    return {key: source[key] for key in keys if source.get(key) is not None}


def new_document(content: Mapping, item: Item, doc_id: str, paths: Sequence[str], roots: Sequence[str],
                 sources: Sequence[str] = ()) -> dict:
    """A whole document: a new one, or one replacing a record's document whose image changed."""
    doc: dict = {**content, **naming(item), "image_id": doc_id, **location_fields(paths, roots),
                 "indexed_at": iso_utc()}
    if item.is_record:
        doc.update(record_fields(item))
        doc["sources"] = merged(sources, [item.origin])
    else:
        doc.update({key: item.fields[key] for key in DEFAULT_KEYS if item.fields.get(key)})
    return {key: value for key, value in doc.items() if value is not None}


def update_document(item: Item, paths: Sequence[str] | None, roots: Sequence[str], sources: Sequence[str],
                    known_relative: Mapping[str, str] | None = None) -> dict:
    """The partial document for a record whose bytes are indexed already: its fields, name, locations
    (None: left as they are) and source."""
    name = {"file_name": item.file_name} if item.file_name else {}  # a title stays unless the record sets one
    # `indexed_at` stays: it is when the image was indexed (near-duplicate checks look at newer images only).
    doc: dict = {**name, **record_fields(item), "sources": merged(sources, [item.origin])}
    if paths is not None:
        doc.update(location_fields(paths, roots, known_relative))
    return doc


def record_fields(item: Item) -> dict:
    """What a record sets: the fields it has columns for (None clears one; an empty title is the file's)."""
    values = dict(item.fields)
    if "title" in values and not values["title"]:
        values["title"] = naming(item).get("title")
    values["record_digest"] = item.digest
    return values


def naming(item: Item) -> dict:
    """The file name and the title it suggests, when the item has a location or an upload's name."""
    name = item.file_name
    return {"file_name": name, "title": title_from_file_name(name)} if name else {}


def location_fields(paths: Sequence[str], roots: Sequence[str], known: Mapping[str, str] | None = None) -> dict:
    paths = merged([], paths)
    return {"paths": paths, "relative_path": relative_paths_for(paths, roots, known)}


def title_from_file_name(name: str) -> str:
    """'sunset_at-the.beach.jpg' → 'sunset at the beach': a searchable title when nothing better is known."""
    stem = os.path.splitext(os.path.basename(name))[0]
    return re.sub(r"[\s_.\-]+", " ", stem).strip() or stem


def iso_utc(timestamp_ns: int | None = None) -> str:
    """A UTC ISO-8601 time from nanoseconds since the epoch (default: now)."""
    moment = datetime.now(timezone.utc) if timestamp_ns is None else \
        datetime.fromtimestamp(timestamp_ns / 1e9, tz=timezone.utc)
    # Milliseconds: a run started in the same second as the last one ended must not count its images as new
    # (the near-duplicate check asks for what was indexed at or after its start).
    return moment.isoformat(timespec="milliseconds")


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


def merged(current: Sequence[str], new: Iterable[str]) -> list[str]:
    """`current` followed by what `new` adds, order kept, no repeats."""
    return list(dict.fromkeys([*current, *new]))
