"""Where an image lives, read from the one string that a record or a document's `paths` holds.

Three forms, and only three: a local path, an `http(s)://` URL, or `s3://bucket/key`. Anything else with
a scheme (`ftp://`, `file://`, `gs://`) is a `bad_location`, never guessed at. Pure: nothing is resolved,
fetched or read from disk here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from es_search.errors import FileFailure

LocationKind = Literal["local", "http", "s3"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://")
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$")


@dataclass(frozen=True)
class Location:
    """A parsed location: `text` as given; `bucket` and `key` for s3 (key may be "" for a prefix)."""

    kind: LocationKind
    text: str
    bucket: str | None = None
    key: str | None = None


def scheme_of(text: str) -> str | None:
    """The lower-cased URL scheme of `text`, or None for a path (C:\\x has a one-letter "scheme": a path)."""
    match = _SCHEME.match(text)
    return match.group(1).lower() if match else None


def is_remote(location: str) -> bool:
    """Whether `location` names an http(s) URL or an s3:// object, as opposed to a local path."""
    return scheme_of(location) in ("http", "https", "s3")


def parse_location(text: str, *, allow_prefix: bool = False) -> Location:
    """The location `text` names; FileFailure(bad_location) for an empty, unsupported or malformed one.

    `allow_prefix`: an s3 URL may stop at the bucket or at a folder (for listing); otherwise it must name a key.
    """
    if not isinstance(text, str) or not text.strip() or "\x00" in text:
        raise FileFailure("bad_location", f"not a usable location: {text!r}")
    scheme = scheme_of(text)
    if scheme is None:
        return Location("local", text)
    if scheme in ("http", "https"):
        return Location("http", _checked_http(text))
    if scheme == "s3":
        bucket, key = split_s3_url(text)
        if not key and not allow_prefix:
            raise FileFailure("bad_location", f"{text!r} names a bucket, not an object (s3://bucket/key)")
        return Location("s3", text, bucket, key)
    raise FileFailure("bad_location", f"unsupported scheme {scheme!r} in {text!r}: use a path, http(s):// or s3://")


def split_s3_url(text: str) -> tuple[str, str]:
    """(bucket, key) of `s3://bucket/key`; the key is taken as written (not percent-decoded), "" if absent."""
    rest = text[len("s3://"):]
    bucket, _, key = rest.partition("/")
    if not _BUCKET.match(bucket):
        raise FileFailure("bad_location", f"{text!r} has no valid bucket name (s3://bucket/key)")
    return bucket, key


def s3_location(bucket: str, key: str) -> str:
    """The location string of an object: the form `paths` and records hold."""
    return f"s3://{bucket}/{key}"


def _checked_http(text: str) -> str:
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise FileFailure("bad_location", f"malformed URL {text!r}: {exc}") from None
    if not parts.hostname:
        raise FileFailure("bad_location", f"URL {text!r} has no host")
    if parts.username is not None or parts.password is not None:
        # A password in a URL would be written into documents, reports and logs.
        raise FileFailure("bad_location", "URLs carrying user:password are not supported")
    return text
