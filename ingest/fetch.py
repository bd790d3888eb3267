"""Fetch stage: each item's image identity (its content hash), reading as little as possible.

- bytes the source holds (an upload): hashed;
- a local file: stat, then the hash the local state recorded for the same size and modification time, or
  the file hashed (read in chunks: its bytes are read again, hash-checked, by the decoder, so they are not
  held while the item waits);
- a listed object (S3, size and time known from the listing) the local state knows: its recorded hash;
- anything else remote: downloaded through the reader (address guard, size cap, retries), bytes kept with
  the item until it is decoded.
Runs on a pool `width` threads wide and at most `ahead` items in front of the pipeline, so slow downloads
overlap each other and the model; results come out in the source's order. An item whose image cannot be
had comes out as a `FetchFailed` with the reason (not_found, vanished, download_failed, timeout, ...).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from es_search.remote import is_remote
from ingest.failures import FileFailure
from ingest.fingerprint import FileFacts, hash_file, sha256_bytes, stat_file
from ingest.items import Fetched, Item, ItemProblem
from ingest.state import IndexedFiles

Reader = Callable[[str], bytes]


@dataclass(frozen=True)
class FetchFailed:
    """An item whose image could not be had."""

    item: Item
    reason: str
    message: str


def fetch_item(item: Item, read_remote: Reader | None, state: IndexedFiles | None) -> Fetched:
    """The item's identity; raises FileFailure with a reason."""
    if item.data is not None:
        return Fetched(item, FileFacts(item.location or "", len(item.data), 0, sha256_bytes(item.data)), item.data)
    if item.location is None:
        raise FileFailure("missing_image", "no image was given")
    if not is_remote(item.location):
        try:
            facts = stat_file(item.location)
        except FileFailure as failure:
            if failure.reason == "vanished" and item.is_record:  # a record naming a file that is not there
                raise FileFailure("not_found", f"{item.location}: no such file") from None
            raise
        known = state.known_hash(facts) if state is not None else None
        if known:
            return Fetched(item, FileFacts(facts.path, facts.size, facts.mtime_ns, known), known=True)
        return Fetched(item, hash_file(facts))
    if item.size is not None and item.modified_ns is not None and state is not None:
        listed = FileFacts(item.location, item.size, item.modified_ns)
        known = state.known_hash(listed)
        if known:
            return Fetched(item, FileFacts(listed.path, listed.size, listed.mtime_ns, known), known=True)
    if read_remote is None:
        raise FileFailure("bad_location", f"{item.location}: remote images cannot be read here")
    data = read_remote(item.location)
    if not data:
        raise FileFailure("empty", "the image has no bytes")
    return Fetched(item, FileFacts(item.location, len(data), item.modified_ns or 0, sha256_bytes(data)), data)


def fetch_ahead(items: Iterable[Item | ItemProblem], read_remote: Reader | None, state: IndexedFiles | None,
                width: int, ahead: int) -> Iterator[Fetched | FetchFailed | ItemProblem]:
    """Fetch up to `ahead` items at once on `width` threads; results in input order."""
    pool = ThreadPoolExecutor(max(1, width), thread_name_prefix="imgsearch-fetch")
    window: deque[tuple[Item | ItemProblem, Future | None]] = deque()
    try:
        for item in items:
            future = pool.submit(fetch_item, item, read_remote, state) if isinstance(item, Item) else None
            window.append((item, future))
            if len(window) >= max(1, ahead):
                yield _result(*window.popleft())
        while window:
            yield _result(*window.popleft())
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _result(item: Item | ItemProblem, future: Future | None) -> Fetched | FetchFailed | ItemProblem:
    if future is None:
        return item
    try:
        return future.result()
    except FileFailure as failure:
        return FetchFailed(item, failure.reason, failure.message)
    except Exception as exc:  # a reader bug must cost one item, not the run
        return FetchFailed(item, "download_failed", f"{type(exc).__name__}: {exc}")
