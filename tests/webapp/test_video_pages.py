"""Video frames in the gallery and the API: results folded by video (group=video) with their time ranges,
a frame's page playing its video from that moment, and the video served with range requests."""

from __future__ import annotations

import io
import uuid

import pytest

from es_search.faces.engine import faces_available
from es_search.index import delete_index
from ingest.runner import run_ingest
from ingest.video import video_available
from tests.support.face_photos import face_photos
from tests.support.videos import FACE_FRAMES, KEPT, two_cameras
from webapp import create_app

pytestmark = pytest.mark.skipif(not (video_available() and faces_available()),
                                reason="needs `make setup-video` and `make setup-faces`")


@pytest.fixture(scope="module")
def footage(es, base_settings, tiny_models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("video-pages")
    photos = face_photos(base_settings.es_cache_dir)
    root = two_cameras(folder / "footage", photos["obama2.jpg"], folder)
    settings = base_settings.with_overrides(
        index_alias=f"test-video-{uuid.uuid4().hex[:12]}", data_dir=folder / "data", faces="on",
        image_model=str(tiny_models.image), text_model=str(tiny_models.text), image_roots=(root,))
    assert run_ingest(settings, [root]).indexed == len(KEPT) + 3
    yield settings, photos
    delete_index(es, settings.index_alias)
    es.indices.delete(index=f"{settings.index_alias}-people", ignore_unavailable=True)


@pytest.fixture(scope="module")
def client(footage):
    return create_app(footage[0]).test_client()


def test_a_search_grouped_by_video_lists_each_video_once_with_its_ranges(client):
    body = client.get("/api/search?group=video&size=10").get_json()
    videos = [group["video_id"] for group in body["groups"]]
    assert len(videos) == 2 and len(set(videos)) == 2
    assert [hit["id"] for hit in body["hits"]] == [group["best"] for group in body["groups"]]
    assert sum(group["frames"] for group in body["groups"]) == len(KEPT) + 3
    assert client.get("/api/search?group=camera").status_code == 400


def test_a_face_search_by_video_gives_the_appearances_and_the_page_plays_from_there(client, footage):
    _, photos = footage
    photo = photos["obama.jpg"].read_bytes()
    answer = client.post("/api/search/faces?group=video", data={"image": (io.BytesIO(photo), "q.jpg")}).get_json()
    [group] = answer["groups"]
    assert sorted((a["start"], a["end"]) for a in group["appearances"]) == [(7.3, 9.3), (16.9, 18.9)]
    best = group["appearances"][0]["best_id"]
    assert answer["hits"][0]["image"]["video_time"] in FACE_FRAMES
    page = client.get(f"/image/{best}").get_data(as_text=True)
    assert f'src="/video/{best}#t=' in page
    played = client.get(f"/video/{best}", headers={"Range": "bytes=0-99"})
    assert played.status_code == 206 and played.mimetype == "video/mp4" and len(played.data) == 100
    results = client.get(f"/faces/{best}/0?group=video").get_data(as_text=True)
    assert 'class="appearances"' in results
    assert client.get("/video/" + "0" * 64).status_code == 404
