"""The one check of an uploaded image's bytes, made where they arrive (the web app's inputs, the command line's
`--image`): not empty, and within IMGSEARCH_MAX_UPLOAD_BYTES. Whatever is downstream takes them as checked."""

from __future__ import annotations

from es_search.errors import UploadRejected


def checked_upload(data: bytes, max_bytes: int) -> bytes:
    """`data` itself, or UploadRejected: empty (400) or larger than the limit (413)."""
    if len(data) > max_bytes:
        raise UploadRejected("too_large", f"the image is larger than the upload limit of {max_bytes} bytes",
                             status=413)
    if not data:
        raise UploadRejected("empty", "the uploaded image is empty")
    return data
