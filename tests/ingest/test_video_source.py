"""Videos through the ingest, on a real node: each kept frame a document with its video, time, camera and
moment; a face pasted into frames at known seconds is found there by a face search, grouped into the right
ranges (group=video), narrowed by camera and time; a truncated video and a text file named .mp4 are
reported and do not stop the run; a records file gives a video its camera and start; a second run writes
nothing new."""

from __future__ import annotations

import csv
import shutil

import pytest

from es_search.faces.engine import faces_available
from es_search.search import SearchService
from es_search.search.filters import parse_filters
from ingest.report import read_report
from ingest.runner import run_ingest, run_records_ingest
from ingest.video import video_available
from tests.support.exactly_once import all_docs
from tests.support.face_photos import face_photos
from tests.support.videos import FACE_FRAMES, KEPT, two_cameras

pytestmark = pytest.mark.skipif(not (video_available() and faces_available()),
                                reason="needs `make setup-video` and `make setup-faces`")


@pytest.fixture(scope="module")
def photos(base_settings):
    return face_photos(base_settings.es_cache_dir)


@pytest.fixture
def video_settings(tiny_settings, es):
    settings = tiny_settings.with_overrides(faces="on", batch_size=8)
    yield settings
    es.options(ignore_status=404).indices.delete(index=f"{settings.index_alias}-people")


@pytest.fixture
def cameras(tmp_path, photos):
    return two_cameras(tmp_path / "footage", photos["obama2.jpg"], tmp_path)


def frames_by_time(es, alias, camera) -> dict[float, dict]:
    return {doc["video_time"]: doc for doc in all_docs(es, alias).values() if doc.get("camera") == camera}


def test_each_kept_frame_is_a_document_with_its_video_time_camera_and_moment(video_settings, es, cameras):
    summary = run_ingest(video_settings, [cameras])
    assert summary.indexed == len(KEPT) + 3 and summary.failed == 2
    failures, _ = read_report(summary.report)
    assert sorted((f["path"].rsplit("/", 1)[-1], f["reason"]) for f in failures) == [
        ("cut.mp4", "truncated"), ("notes.mp4", "not_a_video")]
    lobby = frames_by_time(es, video_settings.index_alias, "cam-1")
    assert sorted(lobby) == KEPT
    frame = lobby[7.3]
    assert frame["taken_at"].startswith("2026-06-01T09:00:07.300")
    assert frame["paths"][0].endswith("cam-1/lobby.mp4#t=7.300") and frame["title"] == "lobby 0:07"
    assert len({doc["video_id"] for doc in lobby.values()}) == 1
    assert [t for t, doc in sorted(lobby.items()) if doc.get("people_count")] == FACE_FRAMES
    assert sorted(frames_by_time(es, video_settings.index_alias, "cam-2")) == [0.0, 2.0, 4.0]
    again = run_ingest(video_settings, [cameras])
    assert again.indexed == 0 and again.already_present == len(KEPT) + 3 and again.failed == 2


def test_a_face_search_finds_the_frames_and_groups_them_into_appearances(video_settings, es, cameras, photos):
    run_ingest(video_settings, [cameras])
    service = SearchService(es, video_settings)
    query = photos["obama.jpg"].read_bytes()
    found = service.search_faces(parse_filters({}), image=query)
    assert sorted(hit.source["video_time"] for hit in found.hits) == FACE_FRAMES
    grouped = service.search_faces(parse_filters({}), image=query, group="video")
    [video] = grouped.groups
    assert sorted((a.start, a.end, a.frames) for a in video.appearances) == [(7.3, 9.3, 2), (16.9, 18.9, 2)]
    assert grouped.hits == [video.best]
    # "This person on camera 1 between 9:00:00 and 9:00:12": one appearance left.
    narrowed = service.search_faces(parse_filters({"camera": ["cam-1"], "date": ["2026-06-01T09:00:00Z..2026-06-01T09:00:12Z"]}),
                                    image=query, group="video")
    assert [(a.start, a.end) for a in narrowed.groups[0].appearances] == [(7.3, 9.3)]
    assert service.search_faces(parse_filters({"camera": ["cam-2"]}), image=query).hits == []


def test_a_records_file_gives_a_video_its_id_camera_and_start(video_settings, es, cameras, tmp_path):
    video = tmp_path / "clip.mp4"
    shutil.copy(cameras / "cam-2" / "yard.mp4", video)
    records = tmp_path / "cameras.csv"
    with open(records, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "image", "camera", "taken_at"])
        writer.writerow(["gate-7", str(video), "gate", "2026-07-01T18:30:00Z"])
    summary = run_records_ingest(video_settings.with_overrides(faces="off"), records)
    assert summary.indexed == 3 and summary.failed == 0
    docs = all_docs(es, video_settings.index_alias)
    assert sorted(docs) == ["gate-7-t000000000", "gate-7-t000002000", "gate-7-t000004000"]
    frame = docs["gate-7-t000002000"]
    assert (frame["camera"], frame["video_id"], frame["video_time"]) == ("gate", "gate-7", 2.0)
    assert frame["taken_at"].startswith("2026-07-01T18:30:02")
