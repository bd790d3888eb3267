"""Thumbnails for the web app, stored under the data folder by content hash (so duplicates share one)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from PIL import Image

from ingest.failures import FileFailure

THUMBNAIL_QUALITY = 85
# Pillow's bilinear is antialiased (its support widens with the reduction), and the working image is mostly
# within 1.5 times the thumbnail (es_search.decode): at that step it looks like bicubic for 60 % of the CPU.
THUMBNAIL_FILTER = Image.Resampling.BILINEAR


def thumbnail_relpath(sha256: str) -> str:
    """Where a content's thumbnail lives, relative to `settings.thumbnails_dir` (two-letter fan-out folders)."""
    return f"{sha256[:2]}/{sha256}.jpg"


def content_of_thumbnail(relative: str) -> str:
    """The content hash a thumbnail path names (`thumbnail_relpath` read back)."""
    return relative.rsplit("/", 1)[-1].removesuffix(".jpg")


def make_thumbnail(image: Image.Image, size: int) -> Image.Image:
    """A copy that fits in a `size` × `size` box, aspect kept (never upscaled)."""
    thumb = image.copy()
    thumb.thumbnail((size, size), THUMBNAIL_FILTER)
    return thumb


def write_thumbnail(image: Image.Image, sha256: str, thumbnails_dir: Path, size: int) -> str:
    """Write the thumbnail once (an existing one is kept) and return its relative path.

    Written to a temporary name and renamed, so a reader or a killed run never sees half a file.
    """
    relpath = thumbnail_relpath(sha256)
    target = Path(thumbnails_dir) / relpath
    if target.is_file():
        return relpath
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".jpg")
        try:
            with os.fdopen(fd, "wb") as fh:
                make_thumbnail(image, size).save(fh, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise FileFailure("io_error", f"cannot write thumbnail {target}: {exc.strerror or exc}") from None
    return relpath
