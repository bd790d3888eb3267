"""Video decoding: frames kept at the interval and at scene changes, at the right seconds; a truncated video
and a text file named .mp4 are told apart and reported."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.video import FrameSampler, VideoError, VideoFacts, read_frames, start_time, video_available
from tests.support.videos import KEPT, SCENES, Clip, write_clip

pytestmark = pytest.mark.skipif(not video_available(), reason="needs `make setup-video` (PyAV)")


def test_the_sampler_keeps_the_first_frame_every_interval_and_scene_changes_not_too_close():
    sampler = FrameSampler(interval=2.0, scene_threshold=30.0, min_gap=0.5)
    dark, light = np.zeros((36, 64), np.uint8), np.full((36, 64), 200, np.uint8)
    seen = [(t, sampler.keep(t, probe)) for t, probe in
            [(0.0, dark), (1.0, dark), (1.2, light), (1.4, dark), (2.0, dark), (3.3, dark), (4.0, dark)]]
    assert seen == [(0.0, "first"), (1.0, None), (1.2, "scene"), (1.4, None), (2.0, None), (3.3, "interval"),
                    (4.0, None)]


def test_frames_come_at_the_interval_and_at_the_scene_cuts(tmp_path):
    path = write_clip(tmp_path / "cam.mp4", Clip(scenes=SCENES))
    frames = list(read_frames(str(path), FrameSampler(), max_pixels=10**8))
    assert [round(f.seconds, 2) for f in frames] == KEPT
    assert [f.reason for f in frames if f.reason == "scene"] == ["scene", "scene"]
    assert frames[0].image.size == (640, 360)


def test_a_truncated_video_and_a_text_file_named_mp4_are_reported_apart(tmp_path):
    whole = write_clip(tmp_path / "whole.mkv", Clip(scenes=SCENES)).read_bytes()
    cut_mkv = tmp_path / "cut.mkv"
    cut_mkv.write_bytes(whole[:len(whole) // 2])
    with pytest.raises(VideoError) as caught:
        kept = []
        for frame in read_frames(str(cut_mkv), FrameSampler(), max_pixels=10**8):
            kept.append(frame)
    assert caught.value.reason == "truncated" and 2 <= len(kept) < len(KEPT)
    mp4 = write_clip(tmp_path / "whole.mp4", Clip(seconds=4)).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(mp4[:len(mp4) // 2])
    (tmp_path / "notes.mp4").write_text("not a video at all\n")
    reasons = []
    for name in ("cut.mp4", "notes.mp4"):
        with pytest.raises(VideoError) as caught:
            list(read_frames(str(tmp_path / name), FrameSampler(), max_pixels=10**8))
        reasons.append(caught.value.reason)
    assert reasons == ["truncated", "not_a_video"]


def test_a_recording_starts_at_its_creation_time_else_its_file_time_less_its_length():
    from datetime import datetime, timezone

    created = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
    assert start_time(VideoFacts(20.0, 640, 360, 10.0, created), 0) == created
    ended = datetime(2026, 6, 1, 9, 0, 20, tzinfo=timezone.utc)
    assert start_time(VideoFacts(20.0, 640, 360, 10.0, None), int(ended.timestamp() * 1e9)) == created
