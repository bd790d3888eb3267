"""When to try a download again, and how long to wait first. Pure: no clock is read, no sleep happens here.

Retried: 5xx answers (but 501, which will not change), 429, and connections that drop. Not retried: 4xx
other than 429 (the answer will be the same), timeouts (another try would wait as long again), refused
addresses and bad locations. The wait doubles from `fetch_backoff` with jitter (half to the whole of the
doubled value), so many fetchers failing together do not come back together; a server's Retry-After is
honoured up to `fetch_retry_after_cap`.
"""

from __future__ import annotations

import random
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from es_search.errors import FileFailure


class Retryable(Exception):
    """A failure worth another try; `failure` is what is raised once the tries run out."""

    def __init__(self, failure: FileFailure, retry_after: float | None = None):
        super().__init__(failure.message)
        self.failure = failure
        self.retry_after = retry_after


RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 507, 508, 509, 520, 521, 522, 523, 524, 529})


def should_retry_status(status: int) -> bool:
    """Whether an HTTP status is worth another try."""
    return status in RETRY_STATUSES or (status >= 500 and status != 501)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date), or None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def retry_delay(attempt: int, base: float, retry_after: float | None = None, cap: float = 30.0,
                rng: random.Random | None = None) -> float:
    """Seconds to wait before try number `attempt + 1` (attempt 0 is the first retry).

    Retry-After, when given, wins (up to `cap`); otherwise base * 2**attempt, jittered to half..whole, at most `cap`.
    """
    if retry_after is not None:
        return min(max(retry_after, 0.0), cap)
    ceiling = min(base * (2 ** attempt), cap)
    return ceiling * (0.5 + 0.5 * (rng or random).random())
