"""Appearances: matching frames folded by video, each video with the time ranges of its matches, best first."""

from __future__ import annotations

from es_search.search.appearances import clock, group_by_video


def hit(hit_id, video=None, seconds=None):
    return {"id": hit_id, "source": {"video_id": video, "video_time": seconds} if video else {}}


def fold(hits, gap=5.0):
    return group_by_video(hits, gap=gap, source=lambda h: h["source"], hit_id=lambda h: h["id"])


def test_frames_of_one_video_are_one_group_ranked_where_its_best_frame_ranked():
    hits = [hit("a9", "A", 9.3), hit("photo"), hit("b1", "B", 1.0), hit("a7", "A", 7.3), hit("a17", "A", 16.9)]
    groups = fold(hits)
    assert [(g.video_id, g.best["id"]) for g in groups] == [("A", "a9"), (None, "photo"), ("B", "b1")]
    assert [h["id"] for h in groups[0].hits] == ["a9", "a7", "a17"]


def test_frames_closer_than_the_gap_are_one_appearance_and_the_best_range_comes_first():
    hits = [hit("late", "A", 16.9), hit("a7", "A", 7.3), hit("a9", "A", 9.3), hit("a19", "A", 18.9)]
    [group] = fold(hits)
    ranges = [(a.start, a.end, a.best_id, a.frames) for a in group.appearances]
    assert ranges == [(16.9, 18.9, "late", 2), (7.3, 9.3, "a7", 2)]
    assert [a.to_dict()["best_time"] for a in group.appearances] == [16.9, 7.3]


def test_a_photo_has_no_ranges_and_clock_reads_like_a_player():
    [group] = fold([hit("photo")])
    assert group.video_id is None and group.appearances == []
    assert (clock(12.5), clock(75), clock(3725)) == ("0:12", "1:15", "1:02:05")
