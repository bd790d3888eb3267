"""Drives a records run: records → fetch (ahead, concurrent) → identity check → decode + encode → bulk index.

The threads, queues, encode loop and bulk writer are the folder pipeline's (`IngestRun`); this subclass
feeds it records instead of paths and decides per record what to write:
- the document id is the record's id, else the content hash (then it behaves like folder mode: rows
  with the same image are one document listing every location);
- the index is asked, in batches (realtime mget), what it holds under those ids: the same content hash
  and the same record digest means nothing to write; the same content hash with another digest is a
  partial update of the record's fields (no decode, no encode); another content hash, or no document,
  needs the content's vector;
- a content is decoded and encoded once however many records show it: records wait on the content in
  flight, later ones reuse its derived fields from a bounded in-memory cache, and a content indexed
  already under another id (in an earlier run, or past the cache) lends its fields and vector from the
  index (one terms search per batch).
A record is counted, recorded in the local state and reported only when its fate is known.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from elasticsearch import Elasticsearch

from es_search.remote import is_remote
from ingest.fetch_stage import Fetched, FetchFailed, Reader, fetch_ahead
from ingest.index_writer import add_paths, remove_paths
from ingest.pending import bulk_outcome
from ingest.pipeline import IngestRun
from ingest.prepare import PreparedImage
from ingest.record_docs import (
    CONTENT_KEYS,
    RECORD_SOURCE_FIELDS,
    IndexedRecord,
    content_fields,
    content_from_document,
    indexed_record,
    merged,
    new_document,
    plan_record,
    update_document,
)
from ingest.records import Record, RecordProblem
from ingest.seen import SeenKeys

# Contents whose derived fields (vector included, some 16 KB each as JSON-ready floats) stay at hand for
# later records showing the same image; older ones are found in the index again (`_borrow_contents`).
CONTENT_CACHE_SIZE = 1024
MGET_CHUNK = 500


@dataclass
class DocPlan:
    """A document waiting for its content's vector: the records it is made of and what the index held."""

    members: list[Fetched]
    indexed: IndexedRecord | None


@dataclass
class PendingContent:
    """A content hash being decoded and encoded, with every document waiting for it."""

    sha256: str
    docs: dict[str, DocPlan] = field(default_factory=dict)

    @property
    def files(self) -> list[Fetched]:
        return [member for plan in self.docs.values() for member in plan.members]


@dataclass
class InFlight:
    """A bulk action sent for a document; `members` that joined after `sent` get their locations added later."""

    kind: str  # "new", "replace" (its image changed) or "update" (fields and locations only)
    members: list[Fetched]
    sent: int


class RecordsRun(IngestRun):
    """One run over a stream of records (from a records file or an object listing) for one source."""

    def __init__(self, es: Elasticsearch, settings, image_encoder, *, source: str, seen: SeenKeys,
                 read_remote: Reader, **kwargs):
        super().__init__(es, settings, image_encoder, **kwargs)
        self.source = source
        self.seen = seen
        self.read_remote = read_remote
        self._cache: OrderedDict[str, dict] = OrderedDict()
        self._inflight: dict[str, InFlight] = {}

    def run(self, records: Iterable[Record | RecordProblem]):  # type: ignore[override]
        workers = self.settings.fetch_concurrency
        known = None if self.options.recheck else self.state  # --recheck: read every image again
        items = fetch_ahead(records, self.read_remote, known, workers,
                            ahead=max(2 * workers, 2 * self.options.batch_size))
        return super().run(items)

    def _unfinished(self) -> int:
        with self._lock:
            return sum(len(p.files) for p in self._pending.values()) + \
                sum(len(f.members) for f in self._inflight.values())

    # ------------------------------------------------------------------ feeder thread

    def _feed_group(self, group: list) -> None:  # type: ignore[override]
        by_doc: dict[str, list[Fetched]] = {}
        for item in group:
            fetched = self._admit(item)
            if fetched is not None:
                doc_id = fetched.record.record_id or fetched.facts.sha256
                self.seen.add("id", doc_id)
                by_doc.setdefault(doc_id, []).append(fetched)
        if not by_doc:
            return
        indexed = self._fetch_indexed(list(by_doc))
        self._borrow_contents({members[-1].facts.sha256 for doc_id, members in by_doc.items()
                               if plan_record(members[-1].record, members[-1].facts.sha256, indexed.get(doc_id),
                                              self.source) == "encode"})
        for doc_id, members in by_doc.items():
            if self.stop.is_set():
                return
            self._plan(doc_id, members, indexed.get(doc_id))

    def _admit(self, item) -> Fetched | None:
        """Report what cannot go on (a bad row, a duplicate id, a failed fetch); the rest goes on."""
        if isinstance(item, RecordProblem):
            if item.record_id:
                self.seen.add("id", item.record_id)  # still in the source: a prune keeps its document
            self.fail_record(None, item.line, item.record_id, item.reason, item.message)
            return None
        record = item.record
        self.seen.add("loc", record.location)
        if record.record_id is not None and not self.seen.add("id", record.record_id):
            self.fail_record(record, record.line, record.record_id, "duplicate_id",
                             f"id {record.record_id!r} is on an earlier row; this row is skipped")
            return None
        if isinstance(item, FetchFailed):
            self.fail_record(record, record.line, record.record_id, item.reason, item.message)
            return None
        return item

    def _plan(self, doc_id: str, members: list[Fetched], indexed: IndexedRecord | None) -> None:
        lead = members[-1]  # rows sharing one document (no ids, same image): the last one's fields win
        sha256, data = lead.facts.sha256, lead.data
        for member in members:
            member.data = None  # only the decoder may need the bytes; nothing else holds them while they wait
        with self._lock:
            inflight = self._inflight.get(doc_id)
            if inflight is not None:  # the same content, without ids, on its way already: add these locations
                inflight.members.extend(members)
                return
            pending = self._pending.get(sha256)
            if pending is not None and doc_id in pending.docs:
                pending.docs[doc_id].members.extend(members)
                return
        id_less = lead.record.record_id is None
        locations = [m.record.location for m in members]
        plan = plan_record(lead.record, sha256, indexed, self.source)
        if plan == "unchanged" and all(loc in indexed.paths for loc in locations):
            self.tally.add("already_present", len(members))
            self._record_members(members, id_less)
            return
        if plan != "encode":
            paths = merged(indexed.paths, locations) if id_less else [lead.record.location]
            doc = update_document(lead.record, indexed, self.source, paths, self.roots)
            action = {"_op_type": "update", "_index": self.alias, "_id": doc_id, "doc": doc}
            if id_less:  # several writers may add locations to a content's document: only on the version read
                action.update(if_seq_no=indexed.seq_no, if_primary_term=indexed.primary_term)
            self._send(doc_id, InFlight("update", list(members), len(members)), action)
            return
        with self._lock:
            content = self._cache.get(sha256)
            if content is None:
                entry = self._pending.get(sha256)
                start = entry is None
                if start:
                    entry = self._pending[sha256] = PendingContent(sha256)
                entry.docs[doc_id] = DocPlan(list(members), indexed)
            else:
                self._cache.move_to_end(sha256)
                self._inflight[doc_id] = InFlight("replace" if indexed else "new", list(members), len(members))
        if content is not None:  # encoded earlier in this run: no decode, no encode
            self._put(self._outgoing, self._document_action(doc_id, DocPlan(members, indexed), content))
        elif start:
            future = self._decode_pool.submit(self._prepare, lead.facts, data)
            self._put(self._decoded, (sha256, future))

    def _send(self, doc_id: str, inflight: InFlight, action: dict) -> None:
        with self._lock:
            self._inflight[doc_id] = inflight
        self._put(self._outgoing, action)

    def _borrow_contents(self, wanted: set[str]) -> None:
        """Contents indexed already under another id (an earlier run, or earlier in this one): their derived
        fields and vector go into the cache, so the same image is never decoded and encoded twice."""
        with self._lock:
            wanted -= set(self._cache) | set(self._pending)
        if not wanted:
            return
        response = self.es.search(index=self.alias, query={"terms": {"sha256": sorted(wanted)}}, size=len(wanted),
                                  collapse={"field": "sha256"}, source_includes=list(CONTENT_KEYS),
                                  source_exclude_vectors=False)
        for hit in response["hits"]["hits"]:
            content = content_from_document(hit["_source"], self.encoder.name)
            if content is not None:
                with self._lock:
                    self._remember(content["sha256"], content)

    def _remember(self, sha256: str, content: dict) -> None:
        """Keep a content's fields at hand (call under the lock); the oldest go when the cache is full."""
        self._cache[sha256] = content
        self._cache.move_to_end(sha256)
        while len(self._cache) > CONTENT_CACHE_SIZE:
            self._cache.popitem(last=False)

    def _fetch_indexed(self, ids: list[str]) -> dict[str, IndexedRecord]:
        found: dict[str, IndexedRecord] = {}
        for start in range(0, len(ids), MGET_CHUNK):
            response = self.es.mget(index=self.alias, ids=ids[start:start + MGET_CHUNK],
                                    source_includes=RECORD_SOURCE_FIELDS)
            for doc in response["docs"]:
                if doc.get("found"):
                    found[doc["_id"]] = indexed_record(doc)
        return found

    # ------------------------------------------------------------------ calling thread (after encoding)

    def _queue_encoded(self, item: PreparedImage, vector: np.ndarray, category: tuple[str, float] | None) -> bool:
        content = content_fields(item, vector, self.encoder.name, category)
        with self._lock:
            entry = self._pending.pop(item.facts.sha256)
            self._remember(item.facts.sha256, content)
            for doc_id, plan in entry.docs.items():
                self._inflight[doc_id] = InFlight("replace" if plan.indexed else "new", list(plan.members),
                                                  len(plan.members))
        for doc_id, plan in entry.docs.items():
            if not self._put(self._outgoing, self._document_action(doc_id, plan, content)):
                return False
        return True

    def _document_action(self, doc_id: str, plan: DocPlan, content: dict) -> dict:
        lead = plan.members[-1]
        id_less = lead.record.record_id is None
        paths = merged([], [m.record.location for m in plan.members]) if id_less else [lead.record.location]
        doc = new_document(content, lead.record, doc_id, self.source, paths, self.roots,
                           plan.indexed.sources if plan.indexed else ())
        doc["byte_size"] = lead.facts.size
        # Without an id the document is the content's, maybe another writer's: create, never overwrite.
        return {"_op_type": "create" if id_less else "index", "_index": self.alias, "_id": doc_id, "_source": doc}

    def _fail_pending(self, sha256: str, reason: str, message: str) -> None:
        with self._lock:
            entry = self._pending.pop(sha256, None)
        for member in entry.files if entry else ():
            self.fail_record(member.record, member.record.line, member.record.record_id, reason, message)

    # ------------------------------------------------------------------ writer thread

    def _settle(self, ok: bool, item: dict) -> None:
        doc_id = item["_id"]
        with self._lock:
            entry = self._inflight.get(doc_id)
        if entry is None:
            return
        outcome, message = bulk_outcome(ok, item, self.settings.node_url)
        if outcome == "rejected":
            with self._lock:
                self._inflight.pop(doc_id, None)
            for member in entry.members:
                self.fail_record(member.record, member.record.line, member.record.record_id, "index_rejected",
                                 message)
            return
        # 409: a content's document (no ids) was created, or changed, by another writer: add our locations to it.
        to_add = [m.record.location for m in entry.members] if not ok else []
        while True:
            if to_add:
                add_paths(self.es, self.alias, doc_id, to_add, self.roots)
            with self._lock:
                extra = [m.record.location for m in entry.members[entry.sent:]]
                if not extra:
                    self._inflight.pop(doc_id, None)
                    members = list(entry.members)
                    break
                entry.sent = len(entry.members)
                to_add = extra
        outcome = "indexed" if entry.kind == "new" and ok else "updated" if ok else "already_present"
        self.tally.add(outcome, 1)
        self.tally.add("already_present", len(members) - 1)
        self._record_members(members, members[-1].record.record_id is None)

    # ------------------------------------------------------------------ shared

    def fail_record(self, record: Record | None, line: int, record_id: str | None, reason: str, message: str) -> None:
        self.report.add(record.location if record else f"{self.source}:{line}", reason, message, line=line,
                        id=record_id)
        self.tally.add("failed", 1, reason=reason)

    def _record_members(self, members: list[Fetched], id_less: bool) -> None:
        """Local files and listed objects go into the local state; what a URL holds cannot be known without it."""
        if self.state is None:
            return
        known = [m.facts for m in members if not is_remote(m.record.location) or m.record.modified_ns]
        stale = self.state.record(known)
        if id_less:  # a location whose content changed leaves the old content's document
            for path, old_sha256 in stale.items():
                remove_paths(self.es, self.alias, old_sha256, [path])
