"""Appearances (pure): matching video frames grouped by video, each video with the time ranges where the
matches occur, best first.

A search with `group=video` ranks hits as usual, then folds them: the frames of one video (same `video_id`)
become one group, ranked where its best frame ranked; inside it, frames less than `gap` seconds apart join
one range (a person walking past a camera is one appearance, seen again later another). A hit that is not a
video frame (a photo) is a group of its own, without ranges.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_GAP_INTERVALS = 2.5  # frames this many sampling intervals apart or closer are one appearance


@dataclass
class Appearance:
    start: float
    end: float
    best_id: str
    best_time: float
    frames: int = 1
    best_rank: int = 0  # the best frame's rank among the hits (0 first)

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "best_id": self.best_id, "best_time": self.best_time,
                "frames": self.frames}


@dataclass
class VideoGroup:
    video_id: str | None  # None: a photo, not a video frame
    best: Any  # the best hit of the group, as the search gave it
    hits: list = field(default_factory=list)  # every hit of the group, in rank order
    appearances: list[Appearance] = field(default_factory=list)  # best first


def group_by_video(hits: Sequence, *, gap: float, source: Callable[[Any], dict],
                   hit_id: Callable[[Any], str]) -> list[VideoGroup]:
    """`hits` (best first) folded by video; `source(hit)` gives a hit's document, `hit_id(hit)` its id."""
    groups: dict[str, VideoGroup] = {}
    ordered: list[VideoGroup] = []
    for hit in hits:
        video = source(hit).get("video_id")
        if not video:
            ordered.append(VideoGroup(None, hit, [hit]))
            continue
        if video not in groups:
            groups[video] = VideoGroup(video, hit)
            ordered.append(groups[video])
        groups[video].hits.append(hit)
    for group in ordered:
        if group.video_id is not None:
            group.appearances = appearances_of(group.hits, gap=gap, source=source, hit_id=hit_id)
    return ordered


def appearances_of(hits: Sequence, *, gap: float, source: Callable[[Any], dict],
                   hit_id: Callable[[Any], str]) -> list[Appearance]:
    """One video's hits (best first) as time ranges, the range holding the best frame first."""
    timed = sorted((float(source(hit).get("video_time") or 0.0), rank, hit) for rank, hit in enumerate(hits))
    ranges: list[Appearance] = []
    for seconds, rank, hit in timed:
        current = ranges[-1] if ranges else None
        if current is not None and seconds - current.end <= gap:
            current.end = seconds
            current.frames += 1
            if rank < current.best_rank:
                current.best_rank, current.best_id, current.best_time = rank, hit_id(hit), seconds
            continue
        ranges.append(Appearance(seconds, seconds, hit_id(hit), seconds, 1, rank))
    return sorted(ranges, key=lambda a: a.best_rank)


def clock(seconds: float) -> str:
    """A time in a video as players show it: 12.5 → '0:12', 3725 → '1:02:05'."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
