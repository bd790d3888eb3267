"""What the write API may fetch: an image URL only on a host the operator listed, an S3 object only in a bucket
listed (IMGSEARCH_WRITE_URL_HOSTS, IMGSEARCH_WRITE_S3_BUCKETS; nothing by default; `*` lists every one). A key that may write must
not turn the server into a fetcher of anything it can reach. Records files and `imgsearch ingest` are the
operator's own and may name any location; the address guard (address_guard.py) applies to every fetch. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from es_search.errors import FileFailure
from es_search.remote.locations import split_s3_url


def host_allowed(host: str, patterns: Sequence[str]) -> bool:
    """`host` is listed: exactly (any case), under a `*.domain` pattern (its subdomains, not the domain), or `*`."""
    host = host.lower().rstrip(".")
    for pattern in (p.strip().lower().rstrip(".") for p in patterns):
        if pattern == "*" or host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


def write_location_problem(location: str, hosts: Sequence[str], buckets: Sequence[str]) -> str | None:
    """Why the write API may not fetch `location` (an http(s) URL or s3://bucket/key), or None when it may."""
    if location.lower().startswith(("http://", "https://")):
        host = urlsplit(location).hostname or ""
        if host_allowed(host, hosts):
            return None
        return (f"the write API may not fetch from {host!r}: the hosts it may fetch from are listed in "
                "IMGSEARCH_WRITE_URL_HOSTS" + (f" ({', '.join(hosts)})" if hosts else " (none now)"))
    if location.lower().startswith("s3://"):
        try:
            bucket, _ = split_s3_url(location)
        except FileFailure:
            return None  # not a location at all: the writer reports it as bad_location
        if bucket in buckets or "*" in buckets:
            return None
        return (f"the write API may not read the bucket {bucket!r}: the buckets it may read are listed in "
                "IMGSEARCH_WRITE_S3_BUCKETS" + (f" ({', '.join(buckets)})" if buckets else " (none now)"))
    return None  # not a remote location: the body's own rules refuse it
