"""The write API's ingest: a few operations (index / create / update / delete) → answered now, in order.

Images go through the one pipeline, like a folder's files: each `index` / `create` operation is an item of
an `UploadSource` (its bytes, or a URL / s3:// key fetched through the remote reader with its address guard
and size cap), the run uses the app's own loaded models, and its bulk requests carry the caller's refresh.
So the rules are the ingest's: the id is the caller's, else the content hash; the same bytes indexed under
the id already are not decoded or encoded again (only the fields are written); the same bytes under
another id lend their derived fields and vector. Field operations (`update`, `delete`) go to Elasticsearch
as one bulk. Operations run in order: consecutive image operations together, then the field operations
after them, and so on. A deleted document's thumbnail goes with it unless another document shows the same
content (thumbnails are per content hash).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

from elasticsearch import Elasticsearch
from elasticsearch import exceptions as es_exceptions

from es_search.config import Settings
from es_search.elastic_errors import error_type, missing_index_message, root_reason, translate
from es_search.errors import ClusterUnavailable, FileFailure, IndexReadOnly
from es_search.remote import parse_location
from ingest.enrichers import Enricher, build_enrichers
from ingest.index_io import fetch_indexed, send_bulk
from ingest.items import Fetched, Item, ItemProblem, record_digest
from ingest.pipeline import Pipeline, RunOptions
from ingest.thumbnails import thumbnail_relpath
from ingest.write_ops import IMAGE_ACTIONS, WriteOp, WriteOutcome, failed, item_outcome, read_only_message

# The `sources` entry of documents written through the API: a records file's prune leaves them alone.
API_SOURCE = "api"
REFRESH_VALUES = ("wait_for", "false", "true")


class Models(Protocol):
    """Where the loaded models come from: the web app's one SearchService (never a second copy)."""

    @property
    def image_encoder(self): ...

    @property
    def text_encoder(self): ...


class Reader(Protocol):
    def read(self, location: str) -> bytes: ...


class UploadSource:
    """The image operations of one request as items; `line` is each operation's place in the request."""

    origin = API_SOURCE
    checks_ids = False
    remote = True

    def __init__(self, ops: Sequence[tuple[int, WriteOp]], sink: ApiSink):
        self.ops, self.sink = ops, sink

    def items(self) -> Iterator[Item | ItemProblem]:
        named: set[str] = set()
        for place, op in self.ops:
            image = op.image
            location = image.location if image else None
            if location is not None and not is_fetchable(location):
                # Only remote locations: a path would read this server's own files.
                self.sink.refuse(place, "bad_location", "url must be an http(s):// URL or s3://bucket/key")
                continue
            if op.doc_id is not None and op.doc_id in named:
                self.sink.refuse(place, "duplicate_id", f"id {op.doc_id!r} is written twice in this request", 409)
                continue
            if op.doc_id is not None:
                named.add(op.doc_id)
            yield Item(location=location, record_id=op.doc_id, fields=op.fields, origin=API_SOURCE,
                       digest=record_digest(location or (image.name if image else None), op.fields), line=place,
                       data=image.data if image else None, name=image.name if image else None,
                       create_only=op.action == "create", always_write=True)


class ApiSink:
    """The pipeline's outcomes as one WriteOutcome per operation (ingest/writer.py's Sink)."""

    def __init__(self, ops: Sequence[WriteOp], alias: str):
        self.ops, self.alias = ops, alias
        self.outcomes: dict[int, WriteOutcome] = {}

    def refuse(self, place: int, reason: str, message: str, status: int | None = None) -> None:
        self.outcomes[place] = failed(self.ops[place], reason, message, status)

    def present(self, members: Sequence[Fetched], unchanged: bool = False) -> None:
        for member in members:
            self.outcomes[member.item.line] = WriteOutcome(self.ops[member.item.line].action, member.doc_id, 200,
                                                           result="noop", encoded=False)

    def written(self, members: Sequence[Fetched], outcome: str, answer: dict, encoded: bool) -> None:
        merged = answer.get("status") == 409  # another writer created the content's document first
        for member in members:
            op = self.ops[member.item.line]
            self.outcomes[member.item.line] = WriteOutcome(
                op.action, answer.get("_id", member.doc_id), 200 if merged else int(answer.get("status", 200)),
                result="updated" if merged else answer.get("result"), encoded=encoded)

    def failed(self, item, reason: str, message: str, status: int | None = None, answer: dict | None = None) -> None:
        op = self.ops[item.line]
        if answer is not None and answer.get("error"):
            self.outcomes[item.line] = item_outcome(op, answer, self.alias, None)
        else:
            doc_id = op.doc_id or (answer or {}).get("_id")
            self.outcomes[item.line] = failed(WriteOp(op.action, doc_id, op.fields, op.image), reason, message, status)

    def noted(self, item: Item, reason: str, message: str) -> None:
        """A note on an indexed image (a heavy enricher that failed): the write itself succeeded."""


class ImageWriter:
    """Applies write operations to `settings.index_alias`; thread-safe, one per app."""

    def __init__(self, es: Elasticsearch, settings: Settings, models: Models, reader: Reader, *,
                 on_watchlist_match: Callable[[str, str], None] | None = None):
        self.es = es
        self.settings = settings
        self.alias = settings.index_alias
        self.models = models
        self.reader = reader
        self.on_watchlist_match = on_watchlist_match
        self._lock = threading.Lock()
        self._enrichers: list[Enricher] | None = None
        self._ready = False

    def apply(self, ops: Sequence[WriteOp], refresh: str = "wait_for") -> list[WriteOutcome]:
        """An outcome per operation, in order. Bad input is an outcome with the ingest's reason; a cluster
        that cannot be reached raises (ClusterUnavailable, IndexMissing, IndexReadOnly), nothing half-answered."""
        try:
            self._ensure_index()
            outcomes: dict[int, WriteOutcome] = {}
            for images, run in _runs(list(ops)):
                outcomes.update(self._images(ops, run, refresh) if images else self._fields(ops, run, refresh))
            return [outcomes[place] for place in range(len(ops))]
        except (es_exceptions.ApiError, es_exceptions.TransportError) as exc:
            raise self._cluster_error(exc) from None

    # ------------------------------------------------------------------ images: the pipeline

    def _images(self, ops: Sequence[WriteOp], places: list[int], refresh: str) -> dict[int, WriteOutcome]:
        sink = ApiSink(ops, self.alias)
        source = UploadSource([(place, ops[place]) for place in places], sink)
        options = RunOptions.from_settings(self.settings, fetch_width=min(len(places), self.settings.fetch_concurrency),
                                           refresh=refresh, answer_now=True)
        pipeline = Pipeline(self.es, self.settings, self.models.image_encoder, sink=sink, options=options,
                            enrichers=self._enrichers_now(), read_remote=self.reader.read,
                            roots=[str(root) for root in self.settings.image_roots],
                            on_watchlist_match=self.on_watchlist_match)
        end = pipeline.run(source.items())
        if end.stopped:
            if isinstance(end.exception, (es_exceptions.ApiError, es_exceptions.TransportError)):
                raise self._cluster_error(end.exception)
            if end.stopped == "error" and end.exception is not None:
                raise end.exception  # a bug: the app logs it and answers 500
            raise ClusterUnavailable(end.error or "the write was cut short; nothing more was written")
        return sink.outcomes

    def _enrichers_now(self) -> list[Enricher]:
        if self._enrichers is None:
            with self._lock:
                if self._enrichers is None:
                    self._enrichers = build_enrichers(self.settings, self.models.text_encoder)
        return self._enrichers

    # ------------------------------------------------------------------ fields: update and delete

    def _fields(self, ops: Sequence[WriteOp], places: list[int], refresh: str) -> dict[int, WriteOutcome]:
        deleted_ids = [ops[place].doc_id for place in places if ops[place].action == "delete"]
        shown = {doc_id: indexed.sha256 for doc_id, indexed in fetch_indexed(self.es, self.alias, deleted_ids).items()}
        actions = []
        for place in places:
            op = ops[place]
            meta = {"_index": self.alias, "_id": op.doc_id}
            actions.append({"_op_type": "update", **meta, "doc": op.fields} if op.action == "update"
                           else {"_op_type": "delete", **meta})
        outcomes = {}
        for place, (_ok, answer) in zip(places, send_bulk(self.es, actions, refresh, retries=0), strict=True):
            op = ops[place]
            outcomes[place] = outcome = item_outcome(op, answer, self.alias, None)
            if op.action == "delete" and outcome.ok and outcome.result == "deleted":
                self._tidy_thumbnail(shown.get(op.doc_id, ""), op.doc_id)
        return outcomes

    def _tidy_thumbnail(self, sha: str, doc_id: str) -> None:
        """The last document of a content takes its thumbnail along (searched: a document written without a
        refresh moments ago may be missed, and then its thumbnail is made again by its next write)."""
        if not sha or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            return  # a stored value never becomes a path: only a well-formed hash does
        others = self.es.count(index=self.alias, query={"bool": {"filter": [{"term": {"sha256": sha}}],
                                                                 "must_not": [{"ids": {"values": [doc_id]}}]}})
        if others["count"] == 0:
            (Path(self.settings.thumbnails_dir) / thumbnail_relpath(sha)).unlink(missing_ok=True)

    # ------------------------------------------------------------------ set-up and failures

    def _ensure_index(self) -> None:
        if self._ready:
            return
        from es_search.index import ensure_index

        with self._lock:
            if not self._ready:
                ensure_index(self.es, self.settings, self.models.image_encoder.dims)  # SchemaMismatch if it cannot
                self._ready = True

    def _cluster_error(self, exc: Exception) -> Exception:
        body = getattr(exc, "body", None)
        if error_type(body) == "cluster_block_exception":  # a block on the cluster, not per item
            return IndexReadOnly(read_only_message(self.alias, root_reason(body)))
        return translate(exc, url=self.settings.node_url, missing=missing_index_message(self.alias))


def is_fetchable(location: str) -> bool:
    """Whether a write may name this location: a URL or an s3:// key, never a path of this server."""
    try:
        return parse_location(location).kind in ("http", "s3")
    except FileFailure:
        return False


def _runs(ops: list[WriteOp]) -> Iterator[tuple[bool, list[int]]]:
    """(images?, places) for each run of consecutive image operations or field operations."""
    run: list[int] = []
    kind = None
    for place, op in enumerate(ops):
        images = op.action in IMAGE_ACTIONS
        if run and images != kind:
            yield kind, run
            run = []
        kind = images
        run.append(place)
    if run:
        yield kind, run
