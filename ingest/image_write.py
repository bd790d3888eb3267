"""The write API's ingest: a few operations (index / create / update / delete) → one bulk request, now.

The folder and records ingests stream millions of files through threads and queues; an application
adding images as they arrive wants each answered in its request. This is the same row of stages, run
inline for one request's images: bytes (given, or fetched through the remote reader with its address guard
and size cap) → content hash → what the index holds under the ids → decode + enrich + thumbnail
(`prepare_image`) → encode in batches with the app's own loaded models (`encode_batch`, `CategoryScorer`)
→ documents (`new_document`, like a record's) → one `_bulk` with the caller's refresh.

Like the records ingest: the id is the caller's, else the content hash; the same bytes already indexed
under the id are not decoded or encoded again (only the fields are written), and the same bytes indexed
under another id lend their derived fields and vector. A deleted document's thumbnail goes with it unless
another document shows the same content (thumbnails are per content hash).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from elasticsearch import Elasticsearch
from elasticsearch import exceptions as es_exceptions

from es_search.config import Settings
from es_search.elastic_errors import error_type, missing_index_message, root_reason, translate
from es_search.encoders.base import EncoderUnavailable
from es_search.errors import FileFailure, IndexReadOnly, SchemaMismatch
from es_search.remote import parse_location
from ingest.encode import encode_batch
from ingest.enrich import CategoryScorer
from ingest.fingerprint import FileFacts, sha256_bytes
from ingest.index_writer import relative_paths_for
from ingest.prepare import PreparedImage, prepare_image
from ingest.record_docs import CONTENT_KEYS, content_fields, content_from_document, merged, new_document
from ingest.records import Record, record_digest
from ingest.thumbnails import thumbnail_relpath
from ingest.write_ops import IMAGE_ACTIONS, WriteOp, WriteOutcome, failed, item_outcome, read_only_message

# The `sources` entry of documents written through the API: a records file's prune leaves them alone.
API_SOURCE = "api"
REFRESH_VALUES = ("wait_for", "false", "true")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_INDEXED_FIELDS = ["sha256", "sources", "paths", "relative_path", "model"]


class Models(Protocol):
    """Where the loaded models come from: the web app's one SearchService (never a second copy)."""

    @property
    def image_encoder(self): ...

    @property
    def text_encoder(self): ...


class Reader(Protocol):
    def read(self, location: str) -> bytes: ...


class ImageWriter:
    """Applies write operations to `settings.index_alias`; thread-safe, one per app."""

    def __init__(self, es: Elasticsearch, settings: Settings, models: Models, reader: Reader):
        self.es = es
        self.settings = settings
        self.alias = settings.index_alias
        self.models = models
        self.reader = reader
        self.roots = [os.path.abspath(root) for root in settings.image_roots]
        self._lock = threading.Lock()
        self._scorer: CategoryScorer | None = None
        self._ready = False

    # ------------------------------------------------------------------ the one entry point

    def apply(self, ops: Sequence[WriteOp], refresh: str = "wait_for") -> list[WriteOutcome]:
        """An outcome per operation, in order. Bad input is an outcome with the ingest's reason; a cluster
        that cannot be reached raises (ClusterUnavailable, IndexMissing), nothing half-answered."""
        try:
            return self._apply(list(ops), refresh)
        except es_exceptions.ApiError as exc:
            if error_type(exc.body) == "cluster_block_exception":  # a block on the cluster, not per item
                raise IndexReadOnly(read_only_message(self.alias, root_reason(exc.body))) from None
            raise translate(exc, url=self.settings.node_url, missing=missing_index_message(self.alias)) from None
        except es_exceptions.TransportError as exc:
            raise translate(exc, url=self.settings.node_url, missing=missing_index_message(self.alias)) from None

    def _apply(self, ops: list[WriteOp], refresh: str) -> list[WriteOutcome]:
        self._ensure_index()
        outcomes: list[WriteOutcome | None] = [None] * len(ops)
        data: dict[int, bytes] = {}
        for i, op in enumerate(ops):
            if op.action in IMAGE_ACTIONS:
                try:
                    data[i] = self._image_bytes(op)
                except FileFailure as failure:
                    outcomes[i] = failed(op, failure.reason, failure.message)
                    continue
                op.doc_id = op.doc_id or sha256_bytes(data[i])
        hashes = {i: sha256_bytes(blob) for i, blob in data.items()}
        indexed = self._indexed([op.doc_id for i, op in enumerate(ops) if outcomes[i] is None])
        same_bytes = {i for i, sha in hashes.items() if indexed.get(ops[i].doc_id, {}).get("sha256") == sha}
        for i in hashes:
            if ops[i].action == "create" and ops[i].doc_id in indexed:
                outcomes[i] = failed(ops[i], "version_conflict_engine_exception",
                                     f"[{ops[i].doc_id}]: version conflict, document already exists", 409)
        wanted = {hashes[i] for i in hashes if outcomes[i] is None and i not in same_bytes}
        contents = self._borrow(wanted)
        fresh_thumbnails: set[str] = set()
        encoded_now = self._encode({sha: data[i] for i, sha in hashes.items() if sha in wanted - set(contents)},
                                   fresh_thumbnails)
        for sha, result in encoded_now.items():
            if isinstance(result, FileFailure):
                for i in [i for i, h in hashes.items() if h == sha and outcomes[i] is None]:
                    outcomes[i] = failed(ops[i], result.reason, result.message)
            else:
                contents[sha] = result
        actions: list[dict] = []
        sent: list[tuple[int, bool | None]] = []
        for i, op in enumerate(ops):
            if outcomes[i] is not None:
                continue
            action = self._action(op, indexed.get(op.doc_id), hashes.get(i), contents, i in same_bytes,
                                  len(data.get(i, b"")))
            actions += action
            sent.append((i, None if i not in hashes else hashes[i] in encoded_now and i not in same_bytes))
        if actions:
            answer = self.es.bulk(operations=actions, refresh=refresh)
            for (i, encoded), item in zip(sent, answer["items"], strict=True):
                outcomes[i] = item_outcome(ops[i], item, self.alias, encoded)
        self._tidy_thumbnails(ops, outcomes, hashes, indexed, fresh_thumbnails)
        return [outcome for outcome in outcomes if outcome is not None]

    # ------------------------------------------------------------------ stages

    def _image_bytes(self, op: WriteOp) -> bytes:
        image = op.image
        if image is None:
            raise FileFailure("missing_image", "an index or create operation needs an image")
        if image.data is not None:
            if len(image.data) > self.settings.max_upload_bytes:
                raise FileFailure("too_large", f"the image is {len(image.data)} bytes; the upload limit is "
                                               f"{self.settings.max_upload_bytes} bytes")
            blob = image.data
        else:
            # Only remote locations: a path would read this server's own files.
            if parse_location(image.location or "").kind not in ("http", "s3"):
                raise FileFailure("bad_location", "url must be an http(s):// URL or s3://bucket/key")
            blob = self.reader.read(image.location)
        if not blob:
            raise FileFailure("empty", "the image has no bytes")
        return blob

    def _indexed(self, ids: list[str]) -> dict[str, dict]:
        """What the index holds under these ids (realtime: sees writes not yet refreshed)."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        response = self.es.mget(index=self.alias, ids=ids, source_includes=_INDEXED_FIELDS)
        return {doc["_id"]: doc.get("_source", {}) for doc in response["docs"] if doc.get("found")}

    def _borrow(self, wanted: set[str]) -> dict[str, dict]:
        """Contents indexed already (under other ids) by the same model: their derived fields and vector."""
        if not wanted:
            return {}
        response = self.es.search(index=self.alias, query={"terms": {"sha256": sorted(wanted)}}, size=len(wanted),
                                  collapse={"field": "sha256"}, source_includes=list(CONTENT_KEYS),
                                  source_exclude_vectors=False)
        name = self.models.image_encoder.name
        found = {}
        for hit in response["hits"]["hits"]:
            content = content_from_document(hit["_source"], name)
            if content is not None:
                found[content["sha256"]] = content
        return found

    def _encode(self, blobs: dict[str, bytes], fresh_thumbnails: set[str]) -> dict[str, dict | FileFailure]:
        """Decode, enrich and encode each content, `batch_size` at a time: its content fields, or why not."""
        results: dict[str, dict | FileFailure] = {}
        items = list(blobs.items())
        size = self.settings.batch_size
        for start in range(0, len(items), size):
            prepared: list[PreparedImage] = []
            for sha, blob in items[start:start + size]:
                existed = (Path(self.settings.thumbnails_dir) / thumbnail_relpath(sha)).is_file()
                try:
                    prepared.append(prepare_image(FileFacts(path=sha, size=len(blob), mtime_ns=0, sha256=sha),
                                                  self.settings, blob))
                except FileFailure as failure:
                    results[sha] = failure
                    continue
                except EncoderUnavailable:
                    raise
                except Exception as exc:  # as in the folder ingest: anything else the decoder meets is damage
                    results[sha] = FileFailure("corrupt", f"{type(exc).__name__}: {exc}")
                    continue
                if not existed:
                    fresh_thumbnails.add(sha)
            if not prepared:
                continue
            encoder = self.models.image_encoder
            vectors = encode_batch(encoder, [p.image for p in prepared])
            good = [(p, v) for p, v in zip(prepared, vectors, strict=True) if not isinstance(v, FileFailure)]
            categories = self._scorer_now().score(np.stack([v for _, v in good])) if good else []
            for (item, vector), category in zip(good, categories, strict=True):
                results[item.facts.sha256] = content_fields(item, vector, encoder.name, category)
            for item, vector in zip(prepared, vectors, strict=True):
                if isinstance(vector, FileFailure):
                    results[item.facts.sha256] = vector
        return results

    def _action(self, op: WriteOp, indexed: dict | None, sha: str | None, contents: dict[str, dict],
                same_bytes: bool, byte_size: int) -> list[dict]:
        """The bulk lines for one operation."""
        meta = {"_index": self.alias, "_id": op.doc_id}
        if op.action == "delete":
            return [{"delete": meta}]
        if op.action == "update":
            return [{"update": meta}, {"doc": op.fields}]
        image = op.image
        location = image.location if image and image.location else None
        paths = [location] if location else []
        if same_bytes:  # the image is indexed under this id already: write what the operation adds, no encode
            doc: dict = {**op.fields, "sources": merged(indexed.get("sources") or [], [API_SOURCE])}
            if location:
                old = list(indexed.get("paths") or [])
                known = dict(zip(old, indexed.get("relative_path") or [], strict=False))
                doc["paths"] = merged(old, paths)
                doc["relative_path"] = relative_paths_for(doc["paths"], self.roots, known)
            return [{"update": meta}, {"doc": doc}]
        name = location or (image.name if image else None) or ""
        record = Record(line=0, location=name, record_id=op.doc_id, fields=op.fields,
                        digest=record_digest(name, op.fields))
        doc = new_document(contents[sha], record, op.doc_id, API_SOURCE, paths, self.roots,
                           (indexed or {}).get("sources") or ())
        doc["byte_size"] = byte_size
        for key in ("title", "file_name"):
            if not doc.get(key):
                doc.pop(key, None)
        return [{"create" if op.action == "create" else "index": meta}, doc]

    def _tidy_thumbnails(self, ops: list[WriteOp], outcomes: list, hashes: dict[int, str], indexed: dict[str, dict],
                         fresh: set[str]) -> None:
        """A thumbnail made for a write that failed, or left by the last document of its content, goes."""
        kept = {hashes[i] for i, outcome in enumerate(outcomes) if i in hashes and outcome is not None and outcome.ok}
        gone = [sha for sha in fresh if sha not in kept]
        for i, op in enumerate(ops):
            outcome = outcomes[i]
            if op.action == "delete" and outcome is not None and outcome.ok and outcome.result == "deleted":
                sha = (indexed.get(op.doc_id) or {}).get("sha256", "")
                if sha not in kept and not self._shown_elsewhere(sha, op.doc_id):
                    gone.append(sha)
        for sha in gone:
            if _SHA256.match(sha or ""):  # a stored value never becomes a path: only a well-formed hash does
                (Path(self.settings.thumbnails_dir) / thumbnail_relpath(sha)).unlink(missing_ok=True)

    def _shown_elsewhere(self, sha: str, doc_id: str) -> bool:
        """Whether a document other than `doc_id` has this content (searched: a document written without
        a refresh moments ago may be missed, and then its thumbnail is made again by its next write)."""
        if not sha:
            return True
        response = self.es.count(index=self.alias, query={"bool": {"filter": [{"term": {"sha256": sha}}],
                                                                   "must_not": [{"ids": {"values": [doc_id]}}]}})
        return response["count"] > 0

    # ------------------------------------------------------------------ set-up, once

    def _ensure_index(self) -> None:
        if self._ready:
            return
        from es_search.index import ensure_index

        with self._lock:
            if not self._ready:
                try:
                    ensure_index(self.es, self.settings, self.models.image_encoder.dims)
                except ValueError as exc:  # vectors of another size: the index belongs to another model
                    raise SchemaMismatch(str(exc)) from None
                self._ready = True

    def _scorer_now(self) -> CategoryScorer:
        if self._scorer is None:
            with self._lock:
                if self._scorer is None:
                    self._scorer = CategoryScorer.from_text_encoder(self.models.text_encoder,
                                                                    self.settings.categories)
        return self._scorer


