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
from collections.abc import Iterator

from es_search.config import Settings
from es_search.errors import FileFailure
from es_search.remote.http_fetch import HttpFetcher, Retryable
from es_search.remote.locations import parse_location
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
            return b"".join(open_s3(self._s3_client(), location, self.settings.download_byte_cap))
        return _read_local(location, self.settings.download_byte_cap)

    def open(self, location: str) -> Iterator[bytes]:
        """The bytes at a remote `location` as chunks, the request already answered (so not-found, refused
        and too-large fail here, before any byte); a failure later stops the iteration with FileFailure.
        Close the iterator (`.close()`) if it is not read to the end."""
        parsed = parse_location(location)
        if parsed.kind == "http":
            body = self._http.open(location)
            return _closing(body)
        if parsed.kind == "s3":
            return open_s3(self._s3_client(), location, self.settings.download_byte_cap)
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

    def _s3_client(self):
        with self._lock:
            if self._s3 is None:
                self._s3 = build_s3_client(self.settings)
            return self._s3


def _closing(body) -> Iterator[bytes]:
    with body:
        try:
            yield from body
        except Retryable as dropped:  # too late to try again: bytes have been handed on
            raise dropped.failure from None


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
