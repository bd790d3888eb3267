"""http(s) downloads with timeouts, retries, a size cap, bounded redirects and the address guard.

In: a URL. Out: its bytes (`read`) or an open, capped body (`open`, for the web app's proxy). Every
failure is a FileFailure with a reason. Built on urllib3 (already here through the Elasticsearch client)
rather than requests, for one reason: the connection must go to the very address the guard checked.
urllib3 lets us open a pool to that IP while sending the URL's Host header and checking TLS against the
URL's host name (`server_hostname`/`assert_hostname`), with no adapter tricks; pools are keyed by those,
thread-safe and reused across calls, so many downloads to one server share warm connections.

Redirects and retries are done here, not by urllib3, because each hop must pass the guard again and
Retry-After must be capped. The size cap is enforced as bytes arrive (a Content-Length above it is
refused before the body is read), and `fetch_total_timeout` bounds a body that trickles in.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urljoin

import urllib3
from urllib3.exceptions import (
    HTTPError,
    LocationParseError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
    TimeoutError,
)
from urllib3.util import Timeout, parse_url

from es_search.config import Settings
from es_search.errors import FileFailure
from es_search.remote.address_guard import resolve_checked
from es_search.remote.retry_policy import Retryable, parse_retry_after, retry_delay, should_retry_status

CHUNK = 64 * 1024
REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "es-image-search"


class CappedBody:
    """An answer's body as chunks, stopped with FileFailure(too_large) past `cap` bytes and
    FileFailure(timeout) past `deadline`. Iterate once; `close()` (or `with`) gives the connection back."""

    def __init__(self, response, cap: int, deadline: float, url: str):
        self._response, self.cap, self._deadline, self.url = response, cap, deadline, url
        self.length = _content_length(response)
        self._complete = False

    def __iter__(self) -> Iterator[bytes]:
        received = 0
        try:
            for chunk in self._response.stream(CHUNK, decode_content=True):
                received += len(chunk)
                if received > self.cap:
                    raise FileFailure("too_large", f"{self.url} is larger than {self.cap} bytes")
                if time.monotonic() > self._deadline:
                    raise FileFailure("timeout", f"{self.url} took too long to download")
                yield chunk
            self._complete = True
        except (ReadTimeoutError, TimeoutError):
            raise FileFailure("timeout", f"{self.url} stopped sending data") from None
        except (ProtocolError, HTTPError, OSError) as exc:
            raise Retryable(FileFailure("download_failed", f"{self.url}: connection dropped ({_short(exc)})")) from None

    def read_all(self) -> bytes:
        return b"".join(self)

    def close(self) -> None:
        """A body read to its end gives its connection back for reuse; any other is closed."""
        if not self._complete:
            self._response.close()
        self._response.release_conn()

    def __enter__(self) -> CappedBody:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class HttpFetcher:
    """Thread-safe and reusable: one pool of connections per checked address, shared by all threads."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._pools = urllib3.PoolManager(num_pools=64, maxsize=settings.fetch_concurrency, block=False)

    def read(self, url: str) -> bytes:
        """The whole body of `url`; retried as retry_policy says (dropped bodies too)."""
        return self._with_retries(url, lambda body: body.read_all(), close=True)

    def open(self, url: str) -> CappedBody:
        """The answer to `url`, its status accepted and headers read; the caller iterates and closes it.
        A connection dropped mid-body is not retried here (bytes may already be on their way elsewhere)."""
        return self._with_retries(url, lambda body: body, close=False)

    def close(self) -> None:
        self._pools.clear()

    def _with_retries(self, url: str, use, close: bool):
        settings = self.settings
        deadline = time.monotonic() + settings.fetch_total_timeout
        attempt = 0
        while True:
            try:
                body = self._answer(url, deadline)
                try:
                    return use(body)
                finally:
                    if close:
                        body.close()
            except Retryable as retry:
                delay = retry_delay(attempt, settings.fetch_backoff, retry.retry_after, settings.fetch_retry_after_cap)
                if attempt >= settings.fetch_retries:
                    raise retry.failure from None
                if time.monotonic() + delay > deadline:
                    raise FileFailure("timeout", f"{url}: no answer within {settings.fetch_total_timeout:g}s "
                                      f"({retry.failure.message})") from None
                time.sleep(delay)
                attempt += 1

    def _answer(self, url: str, deadline: float) -> CappedBody:
        """The first non-redirect answer for `url`, as a body; FileFailure or Retryable otherwise."""
        current = url
        for _ in range(self.settings.fetch_max_redirects + 1):
            response = self._request(current, deadline)
            status = response.status
            if status in REDIRECTS and response.headers.get("Location"):
                target = _join(current, response.headers["Location"])
                _discard(response)
                current = target
                continue
            return self._accepted(response, current, deadline)
        raise FileFailure("too_many_redirects",
                          f"{url}: more than {self.settings.fetch_max_redirects} redirects")

    def _accepted(self, response, url: str, deadline: float) -> CappedBody:
        status = response.status
        if 200 <= status < 300:
            body = CappedBody(response, self.settings.download_byte_cap, deadline, url)
            if body.length is not None and body.length > body.cap:
                _discard(response)
                raise FileFailure("too_large", f"{url} is {body.length} bytes, more than {body.cap}")
            return body
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        _discard(response)
        if status in (404, 410):
            raise FileFailure("not_found", f"{url}: HTTP {status}")
        if status in (401, 403):
            raise FileFailure("forbidden", f"{url}: HTTP {status}")
        failure = FileFailure("download_failed", f"{url}: HTTP {status}")
        if should_retry_status(status):
            raise Retryable(failure, retry_after if status in (429, 503) else None)
        raise failure

    def _request(self, url: str, deadline: float):
        settings = self.settings
        try:
            parts = parse_url(url)
        except LocationParseError as exc:
            raise FileFailure("bad_location", f"malformed URL {url!r}: {exc}") from None
        if parts.scheme not in ("http", "https") or not parts.host:
            raise FileFailure("bad_location", f"{url!r}: only http(s) URLs are fetched")
        if parts.auth:
            raise FileFailure("bad_location", "URLs carrying user:password are not supported")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = resolve_checked(parts.host, port, settings.allow_private_addresses)
        host_name = parts.host.strip("[]")
        pool_kwargs = {"server_hostname": host_name, "assert_hostname": host_name} if parts.scheme == "https" else {}
        headers = {"Host": parts.netloc, "User-Agent": USER_AGENT, "Accept": "image/*, */*;q=0.5"}
        for index, address in enumerate(addresses):  # in the resolver's order; the next one if one refuses
            pool = self._pools.connection_from_host(str(address), port, parts.scheme, pool_kwargs=pool_kwargs)
            left = max(deadline - time.monotonic(), 0.001)
            timeout = Timeout(connect=min(settings.fetch_connect_timeout, left),
                              read=min(settings.fetch_read_timeout, left))
            try:
                return pool.urlopen("GET", parts.request_uri, headers=headers, redirect=False, retries=False,
                                    preload_content=False, timeout=timeout, assert_same_host=False,
                                    release_conn=False)
            except NewConnectionError as exc:
                if index + 1 < len(addresses):
                    continue
                raise Retryable(FileFailure("download_failed", f"{url}: cannot connect ({_short(exc)})")) from None
            except (ReadTimeoutError, TimeoutError):
                raise FileFailure("timeout", f"{url}: no answer in time") from None
            except SSLError as exc:
                raise FileFailure("download_failed", f"{url}: TLS failed ({_short(exc)})") from None
            except (ProtocolError, HTTPError, OSError) as exc:
                raise Retryable(FileFailure("download_failed", f"{url}: connection dropped ({_short(exc)})")) from None
        raise FileFailure("download_failed", f"{url}: no address to connect to")


def _join(base: str, location: str) -> str:
    return urljoin(base, location.strip())


def _discard(response) -> None:
    """Done with an answer whose body we do not want: close its connection rather than read the body."""
    response.close()
    response.release_conn()


def _content_length(response) -> int | None:
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _short(exc: BaseException) -> str:
    text = str(exc.args[-1] if exc.args else exc)
    return text if len(text) <= 200 else text[:200] + "..."
