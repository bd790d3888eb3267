"""S3-compatible object storage (AWS S3, MinIO, Alibaba Cloud OSS's S3 endpoint): read, list, presign.

boto3 rather than s3fs: it is synchronous, so it fits the ingest's and the web app's thread pools as they
are (s3fs runs aiobotocore on an event loop of its own and pins aiobotocore to narrow botocore versions);
its clients are thread-safe; presigning, paginators and the standard retry mode (backoff with jitter for
throttling, 5xx and dropped connections) are built in; and its credential chain is the one AWS users
already configure. Settings left unset (IMGSEARCH_S3_*) fall through to that chain: AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION/AWS_DEFAULT_REGION, AWS_ENDPOINT_URL, AWS_PROFILE
and ~/.aws. The endpoint is the operator's own setting, so the address guard does not apply to it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    IncompleteReadError,
    NoCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from es_search.config import Settings
from es_search.errors import FileFailure, SourceUnavailable
from es_search.remote.locations import parse_location, s3_location
from es_search.remote.retry_policy import Retryable

CHUNK = 64 * 1024
_NOT_FOUND = frozenset({"NoSuchKey", "NoSuchBucket", "NotFound", "404"})
_FORBIDDEN = frozenset({"AccessDenied", "Forbidden", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                        "ExpiredToken", "InvalidToken", "AllAccessDisabled", "AccountProblem"})


@dataclass(frozen=True)
class RemoteObject:
    """One object of a listing: its location string (s3://bucket/key) and what the listing says of it."""

    location: str
    size: int
    etag: str
    last_modified: datetime


def build_s3_client(settings: Settings):
    """A boto3 S3 client from the settings, falling back to boto3's chain for what they leave unset."""
    config = Config(connect_timeout=settings.fetch_connect_timeout, read_timeout=settings.fetch_read_timeout,
                    retries={"max_attempts": settings.fetch_retries + 1, "mode": "standard"},
                    max_pool_connections=max(settings.fetch_concurrency, 10),
                    s3={"addressing_style": settings.s3_addressing_style},
                    user_agent_extra="es-image-search")
    secret = settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None
    token = settings.s3_session_token.get_secret_value() if settings.s3_session_token else None
    with _BUILD_LOCK:  # building from a session is not thread-safe; the client built is
        session = boto3.session.Session()
        return session.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region,
                              aws_access_key_id=settings.s3_access_key_id, aws_secret_access_key=secret,
                              aws_session_token=token, config=config)


_BUILD_LOCK = threading.Lock()


def open_s3(client, location: str, cap: int) -> Iterator[bytes]:
    """The object's bytes as chunks, refused early when larger than `cap` and stopped past it.
    The object is requested before this returns, so a missing key fails here, not at the first chunk;
    a body cut short raises Retryable (its `failure` is the FileFailure to give up with)."""
    parsed = parse_location(location)
    try:
        answer = client.get_object(Bucket=parsed.bucket, Key=parsed.key)
    except (ClientError, BotoCoreError) as exc:
        raise object_failure(exc, location) from None
    length = answer.get("ContentLength")
    if length is not None and length > cap:
        answer["Body"].close()
        raise FileFailure("too_large", f"{location} is {length} bytes, more than {cap}")
    return _capped_chunks(answer["Body"], location, cap)


def _capped_chunks(body, location: str, cap: int) -> Iterator[bytes]:
    received = 0
    try:
        for chunk in body.iter_chunks(CHUNK):
            received += len(chunk)
            if received > cap:
                raise FileFailure("too_large", f"{location} is larger than {cap} bytes")
            yield chunk
    except (IncompleteReadError, ResponseStreamingError) as exc:
        # botocore retries the request, not a body cut short: the reader tries again (reader.py).
        raise Retryable(FileFailure("download_failed", f"{location}: connection dropped ({exc})")) from None
    except (ClientError, BotoCoreError) as exc:
        raise object_failure(exc, location) from None
    finally:
        body.close()


def object_failure(exc: Exception, location: str) -> FileFailure:
    """A boto3 failure about one object, as a FileFailure with a reason."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = exc.response.get("Error", {}).get("Message") or code
        if code == "NoSuchBucket":
            return FileFailure("not_found", f"{location}: no such bucket")
        if code in _NOT_FOUND or status == 404:
            return FileFailure("not_found", f"{location}: no such object")
        if code in _FORBIDDEN or status in (401, 403):
            return FileFailure("forbidden", f"{location}: {code or status} ({message})")
        return FileFailure("download_failed", f"{location}: {code or status} ({message})")
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)):
        return FileFailure("timeout", f"{location}: the storage endpoint did not answer in time")
    if isinstance(exc, NoCredentialsError):
        return FileFailure("forbidden", f"{location}: no S3 credentials (set IMGSEARCH_S3_ACCESS_KEY_ID and "
                                        "IMGSEARCH_S3_SECRET_ACCESS_KEY, or the AWS_* variables)")
    if isinstance(exc, EndpointConnectionError):
        return FileFailure("download_failed", f"{location}: cannot reach the storage endpoint ({exc})")
    return FileFailure("download_failed", f"{location}: {exc}")


def list_s3(prefix_url: str, settings: Settings, page_size: int = 1000) -> Iterator[RemoteObject]:
    """Every object under `prefix_url` (s3://bucket or s3://bucket/prefix/), page by page as listed: never
    the whole listing in memory. Folder markers (keys ending in "/") are skipped. A listing that cannot
    start or go on raises SourceUnavailable."""
    try:
        parsed = parse_location(prefix_url, allow_prefix=True)
    except FileFailure as exc:
        raise SourceUnavailable(exc.message) from None
    if parsed.kind != "s3":
        raise SourceUnavailable(f"{prefix_url!r} is not an s3:// location")
    client = build_s3_client(settings)
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=parsed.bucket, Prefix=parsed.key, PaginationConfig={"PageSize": page_size})
    try:
        for page in pages:
            for item in page.get("Contents", ()):
                if item["Key"].endswith("/"):
                    continue
                yield RemoteObject(location=s3_location(parsed.bucket, item["Key"]), size=int(item.get("Size", 0)),
                                   etag=str(item.get("ETag", "")).strip('"'), last_modified=item["LastModified"])
    except (ClientError, BotoCoreError) as exc:
        raise SourceUnavailable(listing_problem(exc, prefix_url)) from None
    finally:
        client.close()


def listing_problem(exc: Exception, prefix_url: str) -> str:
    """One line saying why `prefix_url` cannot be listed."""
    return f"cannot list {object_failure(exc, prefix_url).message}"


def presigned_url(location: str, settings: Settings, expires: int = 300) -> str:
    """A URL that fetches the object at `location` without credentials for `expires` seconds.
    Computed locally (no request is made); the client is kept per S3 settings."""
    parsed = parse_location(location)
    if parsed.kind != "s3":
        raise FileFailure("bad_location", f"{location!r} is not an s3:// location")
    client = _presigning_client(settings)
    try:
        return client.generate_presigned_url("get_object", Params={"Bucket": parsed.bucket, "Key": parsed.key},
                                             ExpiresIn=int(expires))
    except (ClientError, BotoCoreError) as exc:
        raise object_failure(exc, location) from None


_PRESIGNERS: dict[tuple, object] = {}


def _presigning_client(settings: Settings):
    key = (settings.s3_endpoint_url, settings.s3_region, settings.s3_access_key_id, settings.s3_secret_access_key,
           settings.s3_session_token, settings.s3_addressing_style)
    client = _PRESIGNERS.get(key)
    if client is None:
        client = _PRESIGNERS.setdefault(key, build_s3_client(settings))
    return client
