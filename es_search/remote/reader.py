"""One reader for every location a record or a document names: local path, http(s) URL, s3://bucket/key.

In: a location string. Out: its bytes, at most `settings.download_byte_cap` of them, or a FileFailure whose
`reason` is one of REASONS. Content is not judged here, by extension or by Content-Type: the decoder judges
the bytes later. A `RemoteReader` is thread-safe and meant to be shared by a pool of fetching threads (the
ingest) or by the web app's request threads; it keeps warm HTTP connections and one S3 client, so build
one per run or app, and `close()` it at the end.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator

from es_search.config import Settings
from es_search.errors import FileFailure
from es_search.remote.http_fetch import HttpFetcher
from es_search.remote.locations import parse_location
from es_search.remote.retry_policy import Retryable, retry_delay
from es_search.remote.s3 import build_s3_client, open_s3

REASONS = ("download_failed", "not_found", "forbidden", "timeout", "too_large", "refused_address", "bad_location",
           "too_many_redirects")


class RemoteReader:
    """Reads locations for many threads at once; `read` for the bytes, `open` for chunks (serving)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._http = HttpFetcher(settings)
        self._s3 = None
        self._lock = threading.Lock()

    def read(self, location: str) -> bytes:
        """All the bytes at `location`; FileFailure(reason, message) when they cannot be had."""
        parsed = parse_location(location)
        if parsed.kind == "http":
            return self._http.read(location)
        if parsed.kind == "s3":
            cap = self.settings.download_byte_cap
            return self._retrying(lambda: b"".join(open_s3(self._s3_client(), location, cap)))
        return _read_local(location, self.settings.download_byte_cap)

    def open(self, location: str) -> Iterator[bytes]:
        """The bytes at a remote `location` as chunks, the request already answered (so not-found, refused
        and too-large fail here, before any byte); a failure later stops the iteration with FileFailure.
        Close the iterator (`.close()`) if it is not read to the end."""
        parsed = parse_location(location)
        if parsed.kind == "http":
            return _final(self._http.open(location))
        if parsed.kind == "s3":
            return _final(open_s3(self._s3_client(), location, self.settings.download_byte_cap))
        raise FileFailure("bad_location", f"{location!r} is not a remote location")

    def close(self) -> None:
        self._http.close()
        with self._lock:
            if self._s3 is not None:
                self._s3.close()
                self._s3 = None

    def __enter__(self) -> RemoteReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _retrying(self, action: Callable[[], bytes]) -> bytes:
        """`action` tried again after a dropped body, as often as `fetch_retries` says, with backoff."""
        settings = self.settings
        for attempt in range(settings.fetch_retries + 1):
            try:
                return action()
            except Retryable as retry:
                if attempt == settings.fetch_retries:
                    raise retry.failure from None
                time.sleep(retry_delay(attempt, settings.fetch_backoff, cap=settings.fetch_retry_after_cap))
        raise AssertionError("unreachable")

    def _s3_client(self):
        with self._lock:
            if self._s3 is None:
                self._s3 = build_s3_client(self.settings)
            return self._s3


def _final(chunks) -> Iterator[bytes]:
    """`chunks`, closed at the end; a dropped body is final here (bytes have been handed on already)."""
    try:
        yield from chunks
    except Retryable as dropped:
        raise dropped.failure from None
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _read_local(path: str, cap: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > cap:
                raise FileFailure("too_large", f"{path} is {size} bytes, more than {cap}")
            data = handle.read(cap + 1)
    except FileNotFoundError:
        raise FileFailure("not_found", f"{path}: no such file") from None
    except PermissionError:
        raise FileFailure("forbidden", f"{path}: permission denied") from None
    except IsADirectoryError:
        raise FileFailure("bad_location", f"{path} is a folder, not a file") from None
    except OSError as exc:
        raise FileFailure("download_failed", f"{path}: {exc.strerror or exc}") from None
    if len(data) > cap:
        raise FileFailure("too_large", f"{path} is larger than {cap} bytes")
    return data
