"""What the ingest threads share while a run is under way: its options, the documents on their way into the
index, the reason the run must stop, and how an Elasticsearch failure is told. Plain data, no threads started."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from elasticsearch import ApiError

from es_search.config import Settings
from es_search.elastic_errors import access_denied_message, is_access_denied, root_reason
from ingest.fingerprint import FileFacts
from ingest.index_writer import ExistingDoc


class ClusterFailure(RuntimeError):
    """Elasticsearch cannot take our requests any more; the run stops."""


@dataclass
class PendingDoc:
    """A content hash on its way into the index, with every file of this run that holds it (first one first)."""

    sha256: str
    kind: str  # "create": a new document; "add_paths": paths added to an existing one
    files: list[FileFacts]
    sent: int = 0  # how many of `files` the action in flight carries; later ones get a follow-up update
    existing: ExistingDoc | None = None


@dataclass
class IngestOptions:
    batch_size: int
    decode_workers: int
    bulk_chunk: int
    recheck: bool = False  # ignore the local state: hash every file and ask Elasticsearch

    @classmethod
    def from_settings(cls, settings: Settings, recheck: bool = False) -> IngestOptions:
        return cls(settings.batch_size, settings.decode_workers, settings.bulk_chunk, recheck)


@dataclass
class RunStop:
    """Why the run must stop: the first cause reported by any thread."""

    kind: str = ""
    message: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, kind: str, message: str) -> None:
        with self.lock:
            if not self.kind:  # the first cause is the one worth telling
                self.kind, self.message = kind, message


def chunked(items: Iterable, size: int) -> Iterator[list]:
    """Lists of up to `size` items, lazily."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def bulk_outcome(ok: bool, item: dict, url: str) -> tuple[str, str]:
    """("ok" | "conflict" | "rejected", message) for one bulk item; ClusterFailure when 429 outlasted the retries
    or when the credentials in use may not write (403 of the security layer).

    A conflict (409) means the content is there already (a `create`) or the document changed since it was
    read (an update guarded by if_seq_no): the caller merges instead.
    """
    status, error = item.get("status"), item.get("error") or {}
    if ok:
        return "ok", ""
    if status == 409:
        return "conflict", ""
    if status == 429:
        raise ClusterFailure(f"Elasticsearch at {url} is overloaded (429) even after retries with backoff; "
                             "try a smaller IMGSEARCH_BULK_CHUNK")
    if is_access_denied(status, error):  # no document of the run could be written: stop, saying which privilege
        raise ClusterFailure(access_denied_message(root_reason(error), url))
    if isinstance(error, dict):
        return "rejected", f"{status}: {error.get('type', '')}: {error.get('reason', error)}"
    return "rejected", f"{status}: {error}"


def describe_es_error(exc: Exception, url: str) -> str:
    """One line that says what went wrong with Elasticsearch and where."""
    if isinstance(exc, ApiError) and is_access_denied(exc.status_code, exc.body):
        return access_denied_message(root_reason(exc.body), url)
    if isinstance(exc, ApiError):
        return f"Elasticsearch at {url} answered {exc.status_code}: {exc.message}"
    text = str(exc)
    return f"lost Elasticsearch at {url}: {type(exc).__name__}: {text[:300]}"
