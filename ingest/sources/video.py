"""Videos as sources of frames: every video a source names becomes the items of its kept frames.

Any source may name a video (a folder's file, a records file's row): `with_video_frames` wraps its items and
replaces each local video file by its frames (ingest/video.py picks them: an interval plus scene changes).
Each frame is an item of its own, a document of its own:
- id `<video>-t<milliseconds>`, where `<video>` is the row's id or else the video's content hash (32 hex
  digits), so a frame is written once however often the video is ingested;
- location `<path>#t=<seconds>` (a folder's prune takes the frames of a deleted video off, as it does files);
- its bytes: the frame as a JPEG, so thumbnails, OCR and faces run on it as on any photo;
- fields `video_id`, `video_time` (seconds from the start), `camera` (the row's, else the video's folder
  name), `taken_at` (when the recording began, plus `video_time`: the row's `taken_at` is the start, else
  the container's creation time, else the file's modification time less the duration), and the row's.
A video that cannot be read is an ItemProblem with the reason; one that breaks off keeps the frames read
before, then reports `truncated`. Videos in object storage or at URLs are not read (reported).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta

from es_search.remote import is_remote
from es_search.search.appearances import clock
from ingest.failures import FileFailure
from ingest.fingerprint import hash_file, stat_file
from ingest.items import Item, ItemProblem, record_digest
from ingest.video import FrameSampler, VideoError, VideoFacts, is_video_name, read_frames, start_time, video_available

JPEG_QUALITY = 90
MAX_BASE_CHARS = 100  # a frame id is the base, "-t" and 9 digits: within the 128 an id may have

Progress = Callable[[str, int, float, float | None], None]  # (video, frames decoded, seconds, duration)


def with_video_frames(items: Iterable[Item | ItemProblem], *, interval: float, scene_threshold: float,
                      max_pixels: int, progress: Progress | None = None) -> Iterator[Item | ItemProblem]:
    """`items` with every video replaced by its frames (see the module's rules)."""
    for item in items:
        if isinstance(item, Item) and item.data is None and item.location and is_video_name(item.location):
            yield from frame_items(item, FrameSampler(interval, scene_threshold), max_pixels=max_pixels,
                                   progress=progress)
        else:
            yield item


def frame_items(item: Item, sampler: FrameSampler, *, max_pixels: int,
                progress: Progress | None = None) -> Iterator[Item | ItemProblem]:
    """The items of one video's kept frames, then its problem, if any."""
    path = item.location or ""
    if is_remote(path):
        yield _problem(item, "unsupported_format", "videos are read from local files only; copy it first")
        return
    if not video_available():
        yield _problem(item, "unsupported_format", "reading videos needs PyAV: install it with `make setup-video`")
        return
    try:
        facts = hash_file(stat_file(path))
    except FileFailure as failure:
        yield _problem(item, failure.reason, failure.message)
        return
    base = item.record_id or facts.sha256[:32]
    if len(base) > MAX_BASE_CHARS:
        base = hashlib.sha256(base.encode()).hexdigest()[:32]
    camera = item.fields.get("camera") or os.path.basename(os.path.dirname(os.path.abspath(path))) or None
    told: list[VideoFacts] = []

    def said(frames: int, seconds: float, duration: float | None) -> None:
        if progress is not None:
            progress(path, frames, seconds, duration)

    frames = read_frames(path, sampler, max_pixels=max_pixels, progress=said, facts_out=told)
    try:
        for frame in frames:
            start = _given_start(item) or start_time(told[0], facts.mtime_ns)
            fields = {**item.fields, "video_id": base, "video_time": round(frame.seconds, 3), "camera": camera,
                      "taken_at": (start + timedelta(seconds=frame.seconds)).isoformat(timespec="milliseconds")}
            if not item.fields.get("title"):
                fields["title"] = f"{_stem(path)} {clock(frame.seconds)}"
            location = f"{path}#t={frame.seconds:.3f}"
            yield Item(location, record_id=f"{base}-t{round(frame.seconds * 1000):09d}", fields=fields,
                       origin=item.origin or path, digest=record_digest(location, fields), line=item.line,
                       data=jpeg_bytes(frame.image))
    except VideoError as error:
        yield _problem(item, error.reason, error.message)


def jpeg_bytes(image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _given_start(item: Item) -> datetime | None:
    value = item.fields.get("taken_at")
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _problem(item: Item, reason: str, message: str) -> ItemProblem:
    return ItemProblem(item.label, reason, message, line=item.line, record_id=item.record_id)
