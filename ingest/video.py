"""Video decoding: the frames of a video file worth indexing, at a set interval and at scene changes.

PyAV brings FFmpeg in its wheel, so no system FFmpeg is needed. Every frame is decoded (FFmpeg's threads),
but only a 64×36 grey copy of it is looked at: a frame is kept
- when it is the first,
- when `interval` seconds have passed since the last kept frame, or
- at a scene change: its grey copy differs from the last frame looked at by more than `scene_threshold`
  (mean absolute difference, 0..255), at least `min_gap` seconds after the last kept frame.
The choice (`FrameSampler`) is pure; `read_frames` is the I/O. A file FFmpeg cannot open is a
`VideoError("not_a_video")`, or `"truncated"` when its first bytes say it is a video (an MP4 cut short loses
its index, written last, and cannot be opened at all); one that breaks off while decoding ends with
`VideoError("truncated")` after the frames read up to there.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
from PIL import Image

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"})
PROBE_SIZE = (64, 36)
PROGRESS_SECONDS = 10.0  # how often a long video says how far it is


class VideoError(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason, self.message = reason, message


def is_video_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS


def video_available() -> bool:
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class FrameSampler:
    """Which frames to keep (see the module's rules); feed it every frame in order."""

    interval: float = 2.0
    scene_threshold: float = 30.0
    min_gap: float = 0.5
    _last_kept: float | None = None
    _last_probe: np.ndarray | None = None

    def keep(self, seconds: float, probe: np.ndarray) -> str | None:
        """"first", "interval", "scene" or None (not kept)."""
        previous, self._last_probe = self._last_probe, probe.astype(np.int16)
        if self._last_kept is None:
            self._last_kept = seconds
            return "first"
        since = seconds - self._last_kept
        reason = None
        if since >= self.interval - 1e-6:
            reason = "interval"
        elif since >= self.min_gap and previous is not None and \
                float(np.abs(self._last_probe - previous).mean()) > self.scene_threshold:
            reason = "scene"
        if reason:
            self._last_kept = seconds
        return reason


@dataclass(frozen=True)
class VideoFrame:
    seconds: float
    image: Image.Image
    reason: str  # first, interval or scene


@dataclass(frozen=True)
class VideoFacts:
    duration: float | None  # seconds, when the container says
    width: int
    height: int
    fps: float | None
    created: datetime | None  # the container's creation_time, when it has one


def start_time(facts: VideoFacts, modified_ns: int) -> datetime:
    """When the recording began: the container's creation time, else the file's modification time less the
    duration (a camera writes a file until the recording ends)."""
    if facts.created is not None:
        return facts.created
    end = datetime.fromtimestamp(modified_ns / 1e9, tz=timezone.utc)
    return end - timedelta(seconds=facts.duration or 0.0)


def container_kind(path: str) -> str | None:
    """The container a file's first bytes announce (MP4/MOV, Matroska/WebM, AVI), or None."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError:
        return None
    if head[4:8] == b"ftyp":
        return "MP4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "Matroska"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "AVI"
    return None


def _creation_time(metadata: dict) -> datetime | None:
    text = (metadata or {}).get("creation_time")
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def read_frames(path: str, sampler: FrameSampler, *, max_pixels: int,
                progress: Callable[[int, float, float | None], None] | None = None,
                facts_out: list | None = None) -> Iterator[VideoFrame]:
    """The kept frames of the video at `path`, in order. `facts_out` (a list) receives the VideoFacts once the
    file is open; `progress(frames decoded, seconds reached, duration)` is called every PROGRESS_SECONDS."""
    import av

    try:
        container = av.open(path, metadata_errors="ignore")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        kind = container_kind(path)
        if kind:
            raise VideoError("truncated", f"an {kind} file FFmpeg cannot open: truncated or corrupt ({exc})") from None
        raise VideoError("not_a_video", f"not a video FFmpeg can read: {exc}") from None
    with container:
        if not container.streams.video:
            raise VideoError("not_a_video", "the file holds no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else (
            container.duration / 1e6 if container.duration else None)
        fps = float(stream.average_rate) if stream.average_rate else None
        facts = VideoFacts(duration, stream.codec_context.width, stream.codec_context.height, fps,
                           _creation_time(dict(container.metadata)) or _creation_time(dict(stream.metadata)))
        if facts.width * facts.height > max_pixels:
            raise VideoError("too_many_pixels", f"{facts.width}x{facts.height} frames are over the pixel limit")
        if facts_out is not None:
            facts_out.append(facts)
        decoded, told, seconds = 0, time.monotonic(), 0.0
        try:
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                seconds = max(0.0, float(frame.time))
                decoded += 1
                probe = frame.reformat(width=PROBE_SIZE[0], height=PROBE_SIZE[1], format="gray").to_ndarray()
                reason = sampler.keep(seconds, probe)
                if reason:
                    yield VideoFrame(seconds, frame.to_image(), reason)
                if progress is not None and time.monotonic() - told >= PROGRESS_SECONDS:
                    told = time.monotonic()
                    progress(decoded, seconds, duration)
        except av.FFmpegError as exc:
            raise VideoError("truncated", f"the video breaks off after {seconds:.1f} s ({decoded} frames): "
                                          f"{exc}") from None
        if decoded == 0:
            raise VideoError("not_a_video", "no frame could be decoded")
        if duration and seconds < duration - max(2.0, 3.0 / (fps or 1.0)):
            raise VideoError("truncated", f"the video ends at {seconds:.1f} s of the {duration:.1f} s its header "
                                          f"says ({decoded} frames read)")
