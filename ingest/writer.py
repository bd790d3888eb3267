"""The one writer: from fetched items to acknowledged documents, for every source.

It owns what a run knows about documents on their way into the index:
- identity: an item's document is its record id, else its content hash; items meeting a document already
  on its way join it (their locations are added once it is acknowledged);
- what each document needs (plan.py), decided in batches from one realtime mget;
- the "same bytes already encoded" lookup: contents encoded earlier in the run stay at hand (a bounded
  cache), contents indexed already lend their fields and vector (one search per batch), and a content is
  decoded and encoded once however many documents show it;
- bulk outcomes: a conflict on a content-hash document merges our locations into it, a rejected document
  fails its items, a thumbnail made only for documents that failed goes again;
- the local state record (files and listed objects, once acknowledged) and what the run's `sink` is told.
The pipeline (pipeline.py) calls it from its threads: `take` from the feeder, `content_ready` from the
model's thread, `settle` from the bulk writer. Work leaves through two callbacks: `decode` (a content to
decode and encode) and `send` (a bulk action); either returns False once the run is stopping.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from elasticsearch import Elasticsearch

from es_search.remote import is_remote
from es_search.watchlists.matching import REFUSED, refusal_message
from es_search.watchlists.screen import Screener
from ingest.document import new_document
from ingest.index_io import add_paths, borrow_contents, bulk_outcome, fetch_indexed, remove_paths
from ingest.items import Fetched, Item, ItemProblem
from ingest.plan import Decision, Indexed, document_action, document_paths, lead_of, plan_document, update_action
from ingest.seen import SeenKeys
from ingest.state import IndexedFiles
from ingest.thumbnails import thumbnail_relpath

# Contents whose derived fields (vector included, some 16 KB each as JSON-ready floats) stay at hand for
# later documents showing the same image; older ones are found in the index again.
CONTENT_CACHE_SIZE = 1024


class Sink(Protocol):
    """What a run tells about its items: the ingest's counts and report, or the write API's answers."""

    def present(self, members: Sequence[Fetched], unchanged: bool = False) -> None: ...

    def written(self, members: Sequence[Fetched], outcome: str, answer: dict, encoded: bool) -> None: ...

    def failed(self, item: Item | ItemProblem, reason: str, message: str, status: int | None = None,
               answer: dict | None = None) -> None: ...

    def noted(self, item: Item, reason: str, message: str) -> None: ...


@dataclass
class Waiting:
    """A document waiting for its content: its items and what the index held under its id."""

    members: list[Fetched]
    indexed: Indexed | None
    decision: Decision


@dataclass
class PendingContent:
    """A content hash being decoded and encoded, with every document waiting for it."""

    sha256: str
    docs: dict[str, Waiting] = field(default_factory=dict)

    def members(self) -> list[Fetched]:
        return [member for waiting in self.docs.values() for member in waiting.members]


@dataclass
class InFlight:
    """A bulk action sent for a document; members that joined after `sent` get their locations added later."""

    kind: str  # new, replace, update, add_paths
    members: list[Fetched]
    sent: int
    sha256: str
    encoded: bool = False  # the content went through the model in this run
    fresh_thumbnail: bool = False


# A refused image's reason in the report, and the write API's answer for it (the request was understood).
WATCHLIST_MATCH, REFUSED_STATUS = "watchlist_match", 422
OUTCOME_OF = {"new": "indexed", "replace": "updated", "update": "updated", "add_paths": "already_present"}


class DocumentWriter:
    def __init__(self, es: Elasticsearch, alias: str, node_url: str, *, model: str, content_keys: Sequence[str],
                 sink: Sink, decode: Callable[[Fetched], bool], send: Callable[[dict], bool],
                 state: IndexedFiles | None = None, seen: SeenKeys | None = None, roots: Sequence[str] = (),
                 thumbnails_dir: Path | None = None, stop_on_block: bool = True, screener: Screener | None = None):
        self.es, self.alias, self.node_url = es, alias, node_url
        self.model, self.content_keys = model, tuple(content_keys)
        self.sink, self.decode, self.send = sink, decode, send
        self.state, self.seen, self.roots = state, seen, list(roots)
        self.thumbnails_dir = thumbnails_dir
        self.stop_on_block = stop_on_block
        self.screener = screener
        self._lock = threading.Lock()
        self._pending: dict[str, PendingContent] = {}
        self._inflight: dict[str, InFlight] = {}
        self._cache: OrderedDict[str, dict] = OrderedDict()
        self._kept: set[str] = set()  # contents with an acknowledged document: their thumbnails stay

    # ------------------------------------------------------------------ feeder thread

    def take(self, group: Sequence) -> bool:
        """A batch of fetch results: report what cannot go on, plan the rest. False when the run is stopping."""
        by_doc: dict[str, list[Fetched]] = {}
        for result in group:
            fetched = self._admit(result)
            if fetched is not None:
                by_doc.setdefault(fetched.doc_id, []).append(fetched)
        by_doc = {doc_id: members for doc_id, members in by_doc.items() if not self._join(doc_id, members)}
        if not by_doc:
            return True
        indexed = fetch_indexed(self.es, self.alias, list(by_doc))
        decisions = {doc_id: plan_document(members, indexed.get(doc_id), self.roots)
                     for doc_id, members in by_doc.items()}
        self._borrow({lead_of(by_doc[doc_id]).facts.sha256 for doc_id, d in decisions.items() if d.kind == "encode"})
        for doc_id, members in by_doc.items():
            if not self._route(doc_id, members, indexed.get(doc_id), decisions[doc_id]):
                return False
        return True

    def _admit(self, result) -> Fetched | None:
        """Report what cannot go on (a bad row, a repeated id, a failed fetch); note what the source holds."""
        if isinstance(result, ItemProblem):
            if result.record_id and self.seen is not None:
                self.seen.add("id", result.record_id)  # still in the source: a prune keeps its document
            self.sink.failed(result, result.reason, result.message)
            return None
        item = result.item
        if self.seen is not None and item.location:
            self.seen.add("loc", item.location)
        if item.record_id is not None and self.seen is not None and not self.seen.add("id", item.record_id):
            self.sink.failed(item, "duplicate_id", f"id {item.record_id!r} is named earlier in this source; "
                                                   "this one is skipped")
            return None
        if not isinstance(result, Fetched):  # FetchFailed
            self.sink.failed(item, result.reason, result.message)
            return None
        if item.is_record and self.seen is not None:
            self.seen.add("id", result.doc_id)
        if result.known and not item.is_record:  # a folder's file unchanged since the last run: not even read
            self.sink.present([result], unchanged=True)
            return None
        return result

    def _join(self, doc_id: str, members: list[Fetched]) -> bool:
        """Members of a document already on its way join it; True when they did."""
        sha = lead_of(members).facts.sha256
        with self._lock:
            inflight = self._inflight.get(doc_id)
            if inflight is not None:
                inflight.members.extend(self._drop_data(members))
                return True
            pending = self._pending.get(sha)
            if pending is not None and doc_id in pending.docs:
                pending.docs[doc_id].members.extend(self._drop_data(members))
                return True
        return False

    def _route(self, doc_id: str, members: list[Fetched], indexed: Indexed | None, decision: Decision) -> bool:
        lead = lead_of(members)
        sha = lead.facts.sha256
        if decision.kind == "present":
            self._record_state(members)
            self.sink.present(members)
            return True
        if decision.kind == "refuse":
            for member in members:
                self.sink.failed(member.item, "version_conflict_engine_exception", decision.message, decision.status)
            return True
        if decision.kind in ("update", "add_paths"):
            self._drop_data(members)
            with self._lock:
                self._inflight[doc_id] = InFlight(decision.kind, list(members), len(members), sha)
            return self.send(update_action(self.alias, doc_id, decision, indexed))
        waiting = Waiting(list(members), indexed, decision)
        with self._lock:
            content = self._cache.get(sha)
            if content is not None:
                self._cache.move_to_end(sha)
            else:
                entry = self._pending.get(sha)
                start = entry is None
                if start:
                    entry = self._pending[sha] = PendingContent(sha)
                entry.docs[doc_id] = waiting
        if content is not None:  # encoded earlier in this run, or lent by an indexed document
            return self._send_document(doc_id, waiting, content, encoded=False, fresh=False)
        if start:
            data_holder = lead
            self._drop_data([m for m in members if m is not data_holder])
            return self.decode(data_holder)
        self._drop_data(members)
        return True

    def _borrow(self, wanted: set[str]) -> None:
        with self._lock:
            wanted -= set(self._cache) | set(self._pending)
        borrowed = borrow_contents(self.es, self.alias, wanted, self.model, self.content_keys)
        self.screen(list(borrowed.values()))  # lent by an indexed document, checked against today's lists
        for sha, content in borrowed.items():
            with self._lock:
                self._remember(sha, content)

    def _remember(self, sha: str, content: dict) -> None:
        """Keep a content at hand (call under the lock); the oldest go when the cache is full."""
        self._cache[sha] = content
        self._cache.move_to_end(sha)
        while len(self._cache) > CONTENT_CACHE_SIZE:
            self._cache.popitem(last=False)

    @staticmethod
    def _drop_data(members: list[Fetched]) -> list[Fetched]:
        for member in members:
            member.data = None  # only the decoder needs the bytes; nothing else holds them while they wait
        return members

    def screen(self, contents: Sequence[dict]) -> None:
        """The watchlist check of new content parts (es_search/watchlists/screen.py): each gets its verdict's
        fields; a refused one is never sent (`_send_document`)."""
        if self.screener is not None and contents:
            self.screener.check_contents(contents)

    # ------------------------------------------------------------------ model thread

    def content_ready(self, sha: str, content: dict, fresh_thumbnail: bool) -> bool:
        """A content is encoded: every document waiting for it goes to the bulk writer."""
        with self._lock:
            entry = self._pending.pop(sha)
            self._remember(sha, content)
        for doc_id, waiting in entry.docs.items():
            if not self._send_document(doc_id, waiting, content, encoded=True, fresh=fresh_thumbnail):
                return False
        return True

    def content_note(self, sha: str, reason: str, message: str) -> None:
        """Something about a content the report should say, though its documents are written (a heavy
        enricher that failed)."""
        with self._lock:
            entry = self._pending.get(sha)
            members = entry.members() if entry else []
        for member in members:
            self.sink.noted(member.item, reason, message)

    def content_failed(self, sha: str, reason: str, message: str, fresh_thumbnail: bool = False) -> None:
        with self._lock:
            entry = self._pending.pop(sha, None)
        for member in entry.members() if entry else ():
            self.sink.failed(member.item, reason, message)
        if fresh_thumbnail:
            self._tidy_thumbnail(sha)

    def _send_document(self, doc_id: str, waiting: Waiting, content: dict, *, encoded: bool, fresh: bool) -> bool:
        members = waiting.members
        lead = lead_of(members)
        if content.get("watchlist_status") == REFUSED:
            message = refusal_message(content)
            for member in members:
                self.sink.failed(member.item, WATCHLIST_MATCH, message, REFUSED_STATUS)
            if fresh:
                self._tidy_thumbnail(lead.facts.sha256)
            return True
        paths = document_paths(members, waiting.indexed)
        doc = new_document(content, lead.item, doc_id, paths, self.roots,
                           waiting.indexed.sources if waiting.indexed else ())
        doc["byte_size"] = lead.facts.size
        kind = "replace" if waiting.decision.replace else "new"
        with self._lock:
            self._inflight[doc_id] = InFlight(kind, list(members), len(members), lead.facts.sha256, encoded, fresh)
        return self.send(document_action(self.alias, doc_id, doc, content_id=lead.item.record_id is None,
                                         create_only=lead.item.create_only))

    # ------------------------------------------------------------------ bulk writer thread

    def settle(self, ok: bool, answer: dict) -> None:
        """Elasticsearch answered for one action (ClusterFailure when it can take no more writes)."""
        doc_id = answer["_id"]
        with self._lock:
            entry = self._inflight.get(doc_id)
        if entry is None:
            return
        outcome, message = bulk_outcome(ok, answer, self.node_url, self.alias, self.stop_on_block)
        lead = lead_of(entry.members)
        if outcome == "rejected" or (outcome == "conflict" and lead.item.create_only):
            with self._lock:
                self._inflight.pop(doc_id, None)
            reason, status = ("index_rejected", answer.get("status")) if outcome == "rejected" else \
                ("version_conflict_engine_exception", 409)
            for member in entry.members:
                self.sink.failed(member.item, reason, message or f"[{doc_id}]: document already exists", status,
                                 answer)
            if entry.fresh_thumbnail:
                self._tidy_thumbnail(entry.sha256)
            return
        # A conflict: a content's document was created, or changed, by another writer: add our locations to it.
        to_add = [m.item.location for m in entry.members if m.item.location] if outcome == "conflict" else []
        while True:
            if to_add:
                add_paths(self.es, self.alias, doc_id, to_add, self.roots)
            with self._lock:
                extra = [m.item.location for m in entry.members[entry.sent:] if m.item.location]
                if len(entry.members) == entry.sent:
                    self._inflight.pop(doc_id, None)
                    self._kept.add(entry.sha256)
                    members = list(entry.members)
                    break
                entry.sent = len(entry.members)
                to_add = extra
        self._record_state(members)
        kind = OUTCOME_OF[entry.kind] if outcome == "ok" else "already_present"
        self.sink.written(members, kind, answer, entry.encoded and outcome == "ok")

    def _record_state(self, members: Sequence[Fetched]) -> None:
        """Local files and listed objects go into the local state; what a URL or an upload holds cannot be
        known without reading it. A location whose content changed leaves the old content's document."""
        if self.state is None:
            return
        known = [m.facts for m in members if m.item.location and m.item.data is None
                 and (not is_remote(m.item.location) or m.item.modified_ns)]
        stale = self.state.record(known)
        if lead_of(members).item.record_id is None:
            for path, old_sha256 in stale.items():
                remove_paths(self.es, self.alias, old_sha256, [path])

    def _tidy_thumbnail(self, sha: str) -> None:
        """A thumbnail this run made for a content none of whose documents made it into the index goes."""
        if self.thumbnails_dir is None:
            return
        with self._lock:
            busy = sha in self._kept or sha in self._pending or any(f.sha256 == sha for f in self._inflight.values())
        if not busy:
            (Path(self.thumbnails_dir) / thumbnail_relpath(sha)).unlink(missing_ok=True)

    def unfinished(self) -> int:
        with self._lock:
            return sum(len(p.members()) for p in self._pending.values()) + \
                sum(len(f.members) for f in self._inflight.values())
