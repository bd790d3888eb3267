"""Protection from overload: how much model work one process takes on at once, and how fast one client may
ask for expensive work.

- `ModelGate`: at most `concurrency` model calls at once in this process, at most `queue` more waiting for
  one; a request that finds the queue full is refused at once (`Overloaded`, 503), and one that waited
  `wait_s` without a turn gives up (503 too): the answer says to come back (`Retry-After`) instead of joining
  a pile of requests that would all time out.
- `TokenBuckets`: per client (an API key, else an address), `rate` expensive requests a second with bursts
  of `burst`; past that `RateLimited` (429, `Retry-After` the seconds until a token is back).

Both live in one process: with gunicorn's workers each worker keeps its own, so a client's rate across the
deployment is up to workers × `rate`. Pure of I/O; the clock is injectable for tests.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from es_search.errors import ImgsearchError

MAX_CLIENTS = 10_000  # buckets kept; the least recently seen client is forgotten (its bucket was full anyway)


class Overloaded(ImgsearchError):
    """The model is busy: too many requests already wait for it."""

    exit_code, http_status, code = 3, 503, "overloaded"

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(ImgsearchError):
    """One client asked for more expensive work than its rate allows."""

    exit_code, http_status, code = 2, 429, "rate_limited"

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


def retry_after_header(seconds: float) -> str:
    """Whole seconds, at least 1, as the Retry-After header takes them."""
    return str(max(1, math.ceil(seconds)))


class ModelGate:
    def __init__(self, concurrency: int, queue: int, wait_s: float):
        self.concurrency, self.queue, self.wait_s = concurrency, queue, wait_s
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._waiting = 0
        self.refused = 0  # since start: the queue was full, or the wait too long

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the model's turns for the body of the `with`."""
        if not self._slots.acquire(blocking=False):
            with self._lock:
                if self._waiting >= self.queue:
                    self.refused += 1
                    raise Overloaded(f"the model is busy ({self.concurrency} at work, {self._waiting} waiting): "
                                     "try again shortly", retry_after=self.wait_s)
                self._waiting += 1
            try:
                got = self._slots.acquire(timeout=self.wait_s)
            finally:
                with self._lock:
                    self._waiting -= 1
            if not got:
                with self._lock:
                    self.refused += 1
                raise Overloaded(f"the model stayed busy for {self.wait_s:g} s: try again shortly",
                                 retry_after=self.wait_s)
        try:
            yield
        finally:
            self._slots.release()

    @property
    def waiting(self) -> int:
        return self._waiting


class TokenBuckets:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client → (tokens, when)
        self._lock = threading.Lock()

    def take(self, client: str) -> float | None:
        """Spend one of `client`'s tokens: None when there was one, else the seconds until there is."""
        if self.rate <= 0:
            return None
        now = self.clock()
        with self._lock:
            tokens, when = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - when) * self.rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                wait = None
            else:
                self._buckets[client] = (tokens, now)
                wait = (1.0 - tokens) / self.rate
            while len(self._buckets) > MAX_CLIENTS:
                self._buckets.popitem(last=False)
        return wait
