"""Which files the web side may send: thumbnails from their folder, originals (and the videos of video
frames) from configured roots only.

Paths are checked after resolving symlinks, so neither `..` (encoded or not) nor a symlink leads outside.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from werkzeug.security import safe_join

# Types we send, by thumbnail extension and by the document's `format`; anything else is not sent, so a
# file named `x.html` can never be served as a page.
THUMBNAIL_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}
ORIGINAL_TYPES = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png", "GIF": "image/gif",
                  "WEBP": "image/webp", "BMP": "image/bmp", "TIFF": "image/tiff", "ICO": "image/x-icon",
                  "AVIF": "image/avif"}


# Videos we send for playing a frame's video from its moment, by extension.
VIDEO_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime",
               ".mkv": "video/x-matroska", ".avi": "video/x-msvideo"}
FRAME_MARK = "#t="  # a video frame's location: <video path>#t=<seconds> (ingest/sources/video.py)


def is_inside(path: str, root: str) -> bool:
    """Whether the real `path` lies inside the real directory `root` (both already resolved)."""
    try:
        return os.path.commonpath([root, path]) == root
    except ValueError:  # different drives, or a mix of absolute and relative
        return False


def resolve_thumbnail(thumbnails_dir: Path, relative: str) -> tuple[Path, str] | None:
    """The thumbnail file `relative` names under `thumbnails_dir` and its type, or None when it would leave
    the folder, is not a file, or is not an image type we send."""
    if not relative or "\x00" in relative:
        return None
    joined = safe_join(str(thumbnails_dir), relative)  # None for "..", absolute paths and the like
    if joined is None:
        return None
    root = os.path.realpath(thumbnails_dir)
    real = os.path.realpath(joined)
    mimetype = THUMBNAIL_TYPES.get(os.path.splitext(real)[1].lower())
    if mimetype is None or not is_inside(real, root) or not os.path.isfile(real):
        return None
    return Path(real), mimetype


def resolve_original(paths: Sequence[str], roots: Iterable[Path], image_format: str | None) -> tuple[Path, str] | None:
    """The first of a document's `paths` that is a file inside one of `roots`, with its type; None when
    no root is configured (originals are then not served at all) or no path qualifies."""
    mimetype = ORIGINAL_TYPES.get((image_format or "").upper())
    real_roots = [os.path.realpath(root) for root in roots if os.path.isdir(root)]
    if mimetype is None or not real_roots:
        return None
    for path in paths or ():
        if not isinstance(path, str) or "\x00" in path or not os.path.isabs(path):
            continue
        real = os.path.realpath(path)
        if os.path.isfile(real) and any(is_inside(real, root) for root in real_roots):
            return Path(real), mimetype
    return None


def resolve_video(paths: Sequence[str], roots: Iterable[Path]) -> tuple[Path, str, float] | None:
    """For a video frame's document: its video file inside one of `roots`, the file's type and the frame's
    time (seconds); None when the document is no frame, no root is configured or the video is not there."""
    real_roots = [os.path.realpath(root) for root in roots if os.path.isdir(root)]
    for path in paths or ():
        if not isinstance(path, str) or FRAME_MARK not in path or "\x00" in path:
            continue
        video, _, at = path.rpartition(FRAME_MARK)
        mimetype = VIDEO_TYPES.get(os.path.splitext(video)[1].lower())
        try:
            seconds = float(at)
        except ValueError:
            continue
        if mimetype is None or not os.path.isabs(video):
            continue
        real = os.path.realpath(video)
        if os.path.isfile(real) and any(is_inside(real, root) for root in real_roots):
            return Path(real), mimetype, seconds
    return None
