"""Drives the stages: discover → (skip known) → hash → decode + enrich → encode → bulk index.

Three threads and two small pools, joined by bounded queues, so memory stays flat however many files:
- the feeder walks the paths, skips files the local state knows, hashes the rest (hash pool), asks
  Elasticsearch which contents exist, adds new paths to existing documents, and submits new files to
  the decode pool, whose futures it queues in order;
- the calling thread takes decoded images in batches, encodes them, scores categories, builds documents;
- the writer sends bulk chunks and settles every file only once Elasticsearch acknowledged it.
A file is counted, recorded in the local state and reported only when its fate is known.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
from elasticsearch import ApiError, Elasticsearch, TransportError

from es_search.config import Settings
from es_search.encoders.base import EncoderUnavailable
from ingest.encode import encode_batch, pixel_preprocessor
from ingest.enrich import CategoryScorer
from ingest.failures import FileFailure
from ingest.fingerprint import FileFacts, hash_file, stat_file
from ingest.index_writer import (
    ExistingDoc,
    add_paths,
    add_paths_action,
    build_document,
    create_action,
    fetch_existing,
    remove_paths,
    send_bulk,
)
from ingest.pending import ClusterFailure, IngestOptions, PendingDoc, RunStop, bulk_outcome, chunked, describe_es_error
from ingest.prepare import PreparedImage, prepare_image
from ingest.report import FailureReport, IngestSummary, Tally
from ingest.state import IndexedFiles

# Decoding may run this many batches ahead of the model.
DECODE_AHEAD_BATCHES = 2
# After the first image of a batch arrives, wait at most this long for the rest before encoding a short batch.
BATCH_FILL_SECONDS = 0.5
# Send a partly filled bulk chunk after this long, so acknowledgements (and the progress bar) keep moving.
BULK_FLUSH_SECONDS = 1.0
# How long an interrupted run waits for the writer to send what was already encoded.
FLUSH_ON_STOP_SECONDS = 60.0
POLL_SECONDS = 0.1

_END = object()


class IngestRun:
    """One run over a stream of paths. Build it, call `run(paths)`, read the returned summary."""

    def __init__(self, es: Elasticsearch, settings: Settings, image_encoder, *, report: FailureReport,
                 state: IndexedFiles | None = None, scorer: CategoryScorer | None = None,
                 options: IngestOptions | None = None, progress=None,
                 metadata_for: Callable[[str], dict | None] | None = None, image_roots: Iterable[str] = ()):
        self.es = es
        self.settings = settings
        self.alias = settings.index_alias
        self.encoder = image_encoder
        self.report = report
        self.state = state
        self.scorer = scorer
        self.options = options or IngestOptions.from_settings(settings)
        self.metadata_for = metadata_for
        # What each document's `relative_path` is relative to: the folders of this run and the configured
        # image roots, absolute as the discover stage makes the paths.
        self.roots = list(dict.fromkeys(os.path.abspath(root) for root in (*image_roots, *settings.image_roots)))
        self._preprocess = pixel_preprocessor(image_encoder)
        self.tally = Tally(progress)
        self.stop = threading.Event()
        self.fatal = RunStop()
        self._pending: dict[str, PendingDoc] = {}
        self._lock = threading.Lock()
        self._decoded: queue.Queue = queue.Queue(maxsize=DECODE_AHEAD_BATCHES * self.options.batch_size)
        self._outgoing: queue.Queue = queue.Queue(maxsize=2 * self.options.bulk_chunk)
        self._decode_ended = False

    # ------------------------------------------------------------------ driver (calling thread)

    def run(self, paths: Iterable[str]) -> IngestSummary:
        """Index every path; returns the summary. Ctrl-C stops it cleanly (summary with stopped='interrupted')."""
        workers = self.options.decode_workers
        self._hash_pool = ThreadPoolExecutor(workers, thread_name_prefix="imgsearch-hash")
        self._decode_pool = ThreadPoolExecutor(workers, thread_name_prefix="imgsearch-decode")
        feeder = threading.Thread(target=self._feed, args=(paths,), name="imgsearch-feeder", daemon=True)
        writer = threading.Thread(target=self._write, name="imgsearch-writer", daemon=True)
        interrupted = False
        writer.start()
        feeder.start()
        try:
            self._encode_loop()
        except KeyboardInterrupt:
            interrupted = True
        except Exception as exc:  # a bug here must still end in a summary, with the work done so far kept
            self.fatal.set("error", f"{type(exc).__name__}: {exc}")
        finally:
            if interrupted or self.fatal.kind:
                self.stop.set()
            interrupted |= self._finish(feeder, writer)
        stopped = "interrupted" if interrupted and not self.fatal.kind else (self.fatal.kind or None)
        return self.tally.summary(unfinished=self._unfinished(), stopped=stopped, error=self.fatal.message or None,
                                  report=str(self.report.path))

    def _finish(self, feeder: threading.Thread, writer: threading.Thread) -> bool:
        """Let the writer send what is already encoded, then stop the pools. True if a second Ctrl-C cut it short."""
        try:
            while writer.is_alive():
                try:
                    self._outgoing.put(_END, timeout=POLL_SECONDS)
                    break
                except queue.Full:
                    continue
            writer.join(FLUSH_ON_STOP_SECONDS)
            if writer.is_alive():
                self.fatal.set("cluster", f"Elasticsearch did not answer within {FLUSH_ON_STOP_SECONDS:.0f} s")
            self.stop.set()
            feeder.join(5)
            return False
        except KeyboardInterrupt:
            self.stop.set()
            return True
        finally:
            self._hash_pool.shutdown(wait=False, cancel_futures=True)
            self._decode_pool.shutdown(wait=False, cancel_futures=True)

    def _encode_loop(self) -> None:
        while not self.stop.is_set():
            batch = self._take_batch()
            if batch is None:
                return
            prepared: list[PreparedImage] = []
            for sha256, future in batch:
                try:
                    prepared.append(future.result())
                except FileFailure as failure:
                    self._fail_pending(sha256, failure.reason, failure.message)
                except EncoderUnavailable:
                    raise  # the model is gone, not the file: the run stops
                except Exception as exc:  # prepare_image maps known failures; anything else is a damaged file
                    self._fail_pending(sha256, "corrupt", f"{type(exc).__name__}: {exc}")
            if prepared and not self._encode_and_queue(prepared):
                return

    def _unfinished(self) -> int:
        with self._lock:
            return sum(len(p.files) for p in self._pending.values())

    def _prepare(self, facts: FileFacts, data: bytes | None = None) -> PreparedImage:
        """Decode-pool work for one file: decode, thumbnail, pixel facts and, if the encoder allows, preprocessing.

        `data`: the bytes when they were fetched already (a remote image); else the file is read here.
        """
        item = prepare_image(facts, self.settings, data)
        if self._preprocess is not None:
            try:
                item.pixels = self._preprocess(item.image)
            except EncoderUnavailable:
                raise
            except Exception as exc:
                raise FileFailure("encode_failed", f"preprocessing: {type(exc).__name__}: {exc}") from None
        return item

    def _encode_and_queue(self, prepared: list[PreparedImage]) -> bool:
        pixels = [p.pixels for p in prepared] if self._preprocess is not None else None
        vectors = encode_batch(self.encoder, [p.image for p in prepared], pixels)
        encoded = []
        for item, vector in zip(prepared, vectors, strict=True):
            if isinstance(vector, FileFailure):
                self._fail_pending(item.facts.sha256, vector.reason, vector.message)
            else:
                encoded.append((item, vector))
        if not encoded:
            return True
        categories = (self.scorer.score(np.stack([v for _, v in encoded])) if self.scorer
                      else [None] * len(encoded))
        for (item, vector), category in zip(encoded, categories, strict=True):
            if not self._queue_encoded(item, vector, category):
                return False
        return True

    def _queue_encoded(self, item: PreparedImage, vector: np.ndarray, category: tuple[str, float] | None) -> bool:
        """The document(s) of one encoded content to the writer; False when the run is stopping."""
        with self._lock:
            entry = self._pending[item.facts.sha256]
            paths = [f.path for f in entry.files]
            entry.sent = len(paths)
        extra = self.metadata_for(paths[0]) if self.metadata_for else None
        doc = build_document(item, paths, vector, self.encoder.name, category, extra, roots=self.roots)
        return self._put(self._outgoing, create_action(self.alias, doc))

    def _take_batch(self) -> list[tuple[str, Future]] | None:
        """Up to batch_size queued decodes; None when the feeder is done and nothing is left."""
        if self._decode_ended:
            return None
        batch: list[tuple[str, Future]] = []
        deadline = None
        while len(batch) < self.options.batch_size:
            timeout = POLL_SECONDS if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                item = self._decoded.get(timeout=timeout)
            except queue.Empty:
                if self.stop.is_set():
                    return None
                if deadline is not None:
                    break  # the feeder is slower than the model right now: encode what we have
                continue
            if item is _END:
                self._decode_ended = True
                break
            batch.append(item)
            if deadline is None:
                deadline = time.monotonic() + BATCH_FILL_SECONDS
        return batch or None

    # ------------------------------------------------------------------ feeder thread

    def _feed(self, paths: Iterable[str]) -> None:
        try:
            for group in chunked(paths, self.options.batch_size):
                if self.stop.is_set():
                    return
                self._feed_group(group)
        except (ApiError, TransportError) as exc:
            self._stop_run("cluster", describe_es_error(exc, self.settings.node_url))
        except Exception as exc:  # a walk or hash bug must end in a summary, not a silent hang
            if not self.stop.is_set():  # once stopping, the pools refuse work: that is no news
                self._stop_run("error", f"{type(exc).__name__}: {exc}")
        finally:
            self._put(self._decoded, _END)

    def _feed_group(self, paths: list[str]) -> None:
        files: list[FileFacts] = []
        for path in paths:
            try:
                files.append(stat_file(path))
            except FileFailure as failure:
                self.fail_file(path, failure.reason, failure.message)
        if self.state is not None and not self.options.recheck and files:
            unchanged = self.state.unchanged(files)
            if unchanged:
                self.tally.add("skipped_unchanged", len(unchanged))
                files = [f for f in files if f.path not in unchanged]
        hashed: list[FileFacts] = []
        for facts, future in [(f, self._hash_pool.submit(hash_file, f)) for f in files]:
            try:
                hashed.append(future.result())
            except FileFailure as failure:
                self.fail_file(facts.path, failure.reason, failure.message)
        fresh: dict[str, list[FileFacts]] = {}
        with self._lock:
            for facts in hashed:
                entry = self._pending.get(facts.sha256)
                if entry is not None:
                    entry.files.append(facts)  # same content already on its way: it will carry this path too
                else:
                    fresh.setdefault(facts.sha256, []).append(facts)
        if not fresh:
            return
        # Anything not pending at the check above is either new or acknowledged, and GET is realtime: no race.
        existing = fetch_existing(self.es, self.alias, fresh)
        for sha256, same_content in fresh.items():
            if self.stop.is_set():
                return
            doc = existing.get(sha256)
            if doc is None:
                self._submit_new(sha256, same_content)
            else:
                self._add_paths_to(doc, sha256, same_content)

    def _submit_new(self, sha256: str, files: list[FileFacts]) -> None:
        with self._lock:
            self._pending[sha256] = PendingDoc(sha256, "create", list(files))
        future = self._decode_pool.submit(self._prepare, files[0])
        self._put(self._decoded, (sha256, future))

    def _add_paths_to(self, doc: ExistingDoc, sha256: str, files: list[FileFacts]) -> None:
        known = set(doc.paths)
        present = [f for f in files if f.path in known]
        new = [f for f in files if f.path not in known]
        if present:
            self._record(present)
            self.tally.add("already_present", len(present))
        if new:
            with self._lock:
                self._pending[sha256] = PendingDoc(sha256, "add_paths", list(new), sent=len(new), existing=doc)
            self._put(self._outgoing, add_paths_action(self.alias, sha256, doc, [f.path for f in new], self.roots))

    # ------------------------------------------------------------------ writer thread

    def _write(self) -> None:
        try:
            ended = False
            while not ended:
                chunk, ended = self._collect_chunk()
                for ok, _op_type, item in send_bulk(self.es, chunk) if chunk else ():
                    self._settle(ok, item)
        except (ApiError, TransportError) as exc:
            self._stop_run("cluster", describe_es_error(exc, self.settings.node_url))
        except ClusterFailure as exc:
            self._stop_run("cluster", str(exc))
        except Exception as exc:
            self._stop_run("error", f"{type(exc).__name__}: {exc}")

    def _collect_chunk(self) -> tuple[list[dict], bool]:
        chunk: list[dict] = []
        deadline = None
        while len(chunk) < self.options.bulk_chunk:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                action = self._outgoing.get(timeout=timeout)
            except queue.Empty:
                break
            if action is _END:
                return chunk, True
            chunk.append(action)
            if deadline is None:
                deadline = time.monotonic() + BULK_FLUSH_SECONDS
        return chunk, False

    def _settle(self, ok: bool, item: dict) -> None:
        sha256 = item["_id"]
        with self._lock:
            entry = self._pending.get(sha256)
        if entry is None:
            return
        outcome, message = bulk_outcome(ok, item, self.settings.node_url)
        if outcome == "rejected":
            self._fail_pending(sha256, "index_rejected", message)
        else:  # on a conflict the content is there (someone indexed it first, or changed it): merge our paths
            self._complete(entry, conflict=outcome == "conflict")

    def _complete(self, entry: PendingDoc, conflict: bool) -> None:
        """The action for `entry` is acknowledged: add any paths that joined it meanwhile, then count its files."""
        to_add = [f.path for f in entry.files] if conflict else []
        while True:
            if to_add:
                add_paths(self.es, self.alias, entry.sha256, to_add, self.roots)
            with self._lock:
                extra = [f.path for f in entry.files[entry.sent:]]
                if not extra:
                    self._pending.pop(entry.sha256, None)
                    files = list(entry.files)
                    break
                entry.sent = len(entry.files)
                to_add = extra
        self._record(files)
        if entry.kind == "create" and not conflict:
            self.tally.add("indexed", 1)
            self.tally.add("already_present", len(files) - 1)  # copies of that content found in this run
        else:
            self.tally.add("already_present", len(files))

    # ------------------------------------------------------------------ shared helpers

    def fail_file(self, path: str, reason: str, message: str) -> None:
        """Count and report one file that cannot be indexed (also the discover stage's error callback)."""
        self.report.add(path, reason, message)
        self.tally.add("failed", 1, reason=reason)

    def _fail_pending(self, sha256: str, reason: str, message: str) -> None:
        with self._lock:
            entry = self._pending.pop(sha256, None)
        for facts in entry.files if entry else ():
            self.fail_file(facts.path, reason, message)

    def _record(self, files: list[FileFacts]) -> None:
        if self.state is None:
            return
        # A file whose content changed since it was last indexed: its path leaves the old content's document.
        for path, old_sha256 in self.state.record(files).items():
            remove_paths(self.es, self.alias, old_sha256, [path])

    def _stop_run(self, kind: str, message: str) -> None:
        self.fatal.set(kind, message)
        self.stop.set()

    def _put(self, target: queue.Queue, item) -> bool:
        """Put without blocking forever: False when the run is stopping."""
        while True:
            try:
                target.put(item, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                if self.stop.is_set():
                    return False
