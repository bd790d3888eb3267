"""Originals kept at a URL or in object storage (a document's `paths` holding http(s):// or s3://), served.

Streamed through the web app by default (`remote_originals = "proxy"`), because:
- the page stays same-origin: its Content-Security-Policy (img-src 'self') holds, and the file gets the
  same sandbox, `nosniff` and the type taken from the document's decoded `format` (never the remote's
  Content-Type), exactly as a local original does;
- it works when the bucket's endpoint is private (a MinIO on the LAN, a VPC endpoint) and visitors could
  not reach a presigned URL at all; no credentials, bucket names or signed URLs reach the browser;
- URLs go through the same address guard, size cap and timeouts as the ingest (es_search.remote), so the
  app is no open relay to the operator's network, and memory per request is one chunk, not one image.
Its cost is the bandwidth through the web workers. Where the bucket is public-facing (AWS S3, OSS), set
`remote_originals = "presigned"`: s3:// originals are then a redirect to a short-lived presigned URL
(`presigned_expiry` seconds), and that endpoint's origin joins the image page's img-src; http(s) originals
are still proxied. "off" serves no remote original (the thumbnail stands in, as for unserved local files).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from urllib.parse import urlsplit

from flask import Response, redirect

from es_search.errors import FileFailure, OriginalUnavailable
from es_search.remote.locations import is_remote, scheme_of
from es_search.remote.reader import RemoteReader
from es_search.remote.s3 import presigned_url
from webapp.files import ORIGINAL_TYPES

log = logging.getLogger(__name__)


def remote_original(paths: Sequence[str], image_format: str | None, mode: str) -> tuple[str, str] | None:
    """The first remote location among a document's `paths` with the type it is sent as, or None (mode
    "off", no remote path, or a format we do not send). Pure."""
    mimetype = ORIGINAL_TYPES.get((image_format or "").upper())
    if mode == "off" or mimetype is None:
        return None
    for path in paths or ():
        if isinstance(path, str) and "\x00" not in path and is_remote(path):
            return path, mimetype
    return None


def redirects(location: str, mode: str) -> bool:
    """Whether this original is answered with a redirect to a presigned URL rather than proxied."""
    return mode == "presigned" and scheme_of(location) == "s3"


def redirect_origin(location: str, settings) -> str | None:
    """The origin the browser is sent to for this original (the image page's img-src must allow it), or
    None when it is proxied. Per location: a virtual-hosted bucket has an origin of its own."""
    if not redirects(location, settings.remote_originals):
        return None
    try:
        parts = urlsplit(presigned_url(location, settings, 60))
    except FileFailure:
        return None
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else None


def original_response(location: str, mimetype: str, settings, reader: RemoteReader, headers: dict) -> Response:
    """The answer for a remote original: a redirect or a streamed body; OriginalUnavailable (404/502/504)
    when the remote cannot give it, before any byte is sent."""
    try:
        if redirects(location, settings.remote_originals):
            response = redirect(presigned_url(location, settings, settings.presigned_expiry), code=302)
            response.headers["Cache-Control"] = "private, no-store"  # the signature expires
            return response
        chunks = reader.open(location)
    except FileFailure as exc:
        raise OriginalUnavailable(exc.reason, f"the original cannot be fetched: {exc.message}") from None
    response = Response(_guarded(chunks, location), mimetype=mimetype, direct_passthrough=True)
    response.headers.update(headers)
    return response


def _guarded(chunks: Iterable[bytes], location: str) -> Iterator[bytes]:
    """The chunks; a failure after the first byte can only end the body early (the status is sent), so it
    is logged rather than raised into the server."""
    try:
        yield from chunks
    except FileFailure as exc:
        log.warning("remote original broke off: %s", exc)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
