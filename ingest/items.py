"""What every source hands the pipeline: an `Item` per image it names, or an `ItemProblem` for what it cannot.

A folder names files, a records file names rows, an object-storage prefix names objects, the write API names
one uploaded image per operation: all of them become the same Item, and from there the same stages run
(ingest/pipeline.py). An item says
- where its image is (`location`: a path, an http(s) URL or s3://bucket/key; None for uploaded bytes),
- which document it is (`record_id`; None: the content hash is the id, and copies join one document),
- what it sets (`fields`, already converted by es_search.values), and whether it is a *record*: an item
  with an `origin` (the records file, prefix or API that put it there, kept in the document's `sources`)
  writes its fields whenever they change; a folder's file (no origin) gives its fields to a new document
  only,
- and, when the source has them, its bytes (`data`).
Plain data; nothing here reads or writes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from ingest.fingerprint import FileFacts


@dataclass(frozen=True)
class Item:
    """One image a source names. `line` places it in its source (a row, an operation) for the report."""

    location: str | None
    record_id: str | None = None
    fields: Mapping[str, object] = field(default_factory=dict)
    origin: str | None = None
    digest: str | None = None  # what the record sets, as a fingerprint: equal digests mean nothing to write
    line: int | None = None
    data: bytes | None = field(default=None, repr=False)
    name: str | None = None  # an upload's file name: its document's file name and first title
    size: int | None = None  # known beforehand for listed objects (an S3 listing), else None
    modified_ns: int | None = None
    create_only: bool = False  # the write API's `create`: an id that exists already is a conflict
    always_write: bool = False  # the write API: the same record again is still written (fields may be PATCHed since)

    @property
    def is_record(self) -> bool:
        return self.origin is not None

    @property
    def label(self) -> str:
        """How the report names the item."""
        return self.location or self.name or (f"{self.origin}:{self.line}" if self.line is not None else "upload")

    @property
    def file_name(self) -> str | None:
        where = self.location or self.name
        return (os.path.basename(where.rstrip("/")) or where) if where else None


@dataclass(frozen=True)
class ItemProblem:
    """Something a source names but cannot hand over (a bad row, an unreadable folder): reported, skipped."""

    label: str
    reason: str
    message: str
    line: int | None = None
    record_id: str | None = None


@dataclass
class Fetched:
    """An item whose image identity is known: `facts.sha256` always; `data` when the bytes are held (remote
    images, uploads); `known` when the hash came from the local state and the file was not read."""

    item: Item
    facts: FileFacts
    data: bytes | None = field(default=None, repr=False)
    known: bool = False

    @property
    def doc_id(self) -> str:
        return self.item.record_id or self.facts.sha256


def record_digest(location: str | None, values: Mapping[str, object]) -> str:
    """A short fingerprint of what a record sets (its location and fields)."""
    text = json.dumps([location, values], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
