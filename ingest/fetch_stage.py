"""Fetch stage: each record's image bytes (or, for a local file the local state knows, just its hash).

Runs in its own thread pool, IMGSEARCH_FETCH_CONCURRENCY wide and a bounded number of records ahead of
the decoders, so slow downloads overlap each other and the model instead of queueing behind it; results
come out in the records' order. A record whose image cannot be had comes out as a `FetchFailed` with the reader's
reason (download_failed, not_found, forbidden, timeout, too_large, ...): the run reports it and goes on.

Local files are hashed here and read again, hash-checked, by the decoder (as in folder mode), so their
bytes are never held while they wait; remote bytes are kept with the record until it is decoded: at most
the look-ahead window (twice the concurrency or twice the batch size) plus the decoders' queue, each
image at most IMGSEARCH_MAX_DOWNLOAD_BYTES.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from es_search.remote import is_remote
from ingest.failures import FileFailure
from ingest.fingerprint import FileFacts, hash_file, sha256_bytes, stat_file
from ingest.records import Record, RecordProblem
from ingest.state import IndexedFiles

Reader = Callable[[str], bytes]


@dataclass
class Fetched:
    """A record whose image identity is known: `facts.sha256` always, `data` for remote images."""

    record: Record
    facts: FileFacts
    data: bytes | None = None


@dataclass(frozen=True)
class FetchFailed:
    """A record whose image could not be had."""

    record: Record
    reason: str
    message: str


def fetch_record(record: Record, read_remote: Reader, state: IndexedFiles | None) -> Fetched:
    """The image's identity, reading as little as possible; raises FileFailure with a reason."""
    if not is_remote(record.location):
        try:
            facts = stat_file(record.location)
        except FileFailure as failure:
            if failure.reason == "vanished":  # a records file naming a file that is not there: it never was
                raise FileFailure("not_found", f"{record.location}: no such file") from None
            raise
        known = state.known_hash(facts) if state is not None else None
        if known:
            return Fetched(record, FileFacts(facts.path, facts.size, facts.mtime_ns, known))
        return Fetched(record, hash_file(facts))
    if record.size is not None and record.modified_ns is not None and state is not None:
        # A listed object (S3): its size and modification time say whether the bytes changed since last time.
        listed = FileFacts(record.location, record.size, record.modified_ns)
        known = state.known_hash(listed)
        if known:
            return Fetched(record, FileFacts(listed.path, listed.size, listed.mtime_ns, known))
    data = read_remote(record.location)
    if not data:
        raise FileFailure("empty", "the image has no bytes")
    return Fetched(record, FileFacts(record.location, len(data), record.modified_ns or 0, sha256_bytes(data)), data)


def fetch_ahead(items: Iterable[Record | RecordProblem], read_remote: Reader, state: IndexedFiles | None,
                workers: int, ahead: int) -> Iterator[Fetched | FetchFailed | RecordProblem]:
    """Fetch up to `ahead` records at once on `workers` threads; results in input order."""
    pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="imgsearch-fetch")
    window: deque[tuple[Record | RecordProblem, Future | None]] = deque()
    try:
        for item in items:
            future = pool.submit(fetch_record, item, read_remote, state) if isinstance(item, Record) else None
            window.append((item, future))
            if len(window) >= max(1, ahead):
                yield _result(*window.popleft())
        while window:
            yield _result(*window.popleft())
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _result(item: Record | RecordProblem, future: Future | None) -> Fetched | FetchFailed | RecordProblem:
    if future is None:
        return item
    try:
        return future.result()
    except FileFailure as failure:
        return FetchFailed(item, failure.reason, failure.message)
    except Exception as exc:  # a reader bug must cost one record, not the run
        return FetchFailed(item, "download_failed", f"{type(exc).__name__}: {exc}")
