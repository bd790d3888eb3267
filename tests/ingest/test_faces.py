"""Faces through the ingest, on real photos and a real node: the three photos of one person come out as one
person and the other two people stay apart; a face search with one photo finds the others with their face
box; a person is named, found by name, merged, split and removed, through the service and the `imgsearch people`
command; and everything can be removed at once."""

from __future__ import annotations

import json
import shutil

import pytest

from es_search.faces.engine import faces_available
from es_search.search import SearchService
from es_search.search.filters import parse_filters
from es_search.search.request import SearchRequest
from ingest.runner import run_ingest
from tests.support.cli import imgsearch
from tests.support.exactly_once import all_docs
from tests.support.face_photos import astronaut_jpeg, face_photos

pytestmark = pytest.mark.skipif(not faces_available(), reason="needs `make setup-faces`")


@pytest.fixture(scope="module")
def photos(base_settings):
    return face_photos(base_settings.es_cache_dir)


@pytest.fixture
def faces_settings(tiny_settings, es):
    settings = tiny_settings.with_overrides(faces="on", batch_size=4)
    yield settings
    es.options(ignore_status=404).indices.delete(index=f"{settings.index_alias}-people")


@pytest.fixture
def indexed(faces_settings, photos, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, path in photos.items():
        shutil.copy(path, folder / name)
    astronaut_jpeg(folder / "astronaut.jpg")
    summary = run_ingest(faces_settings, [folder])
    return folder, summary


def by_file(es, alias) -> dict:
    return {doc["file_name"]: doc for doc in all_docs(es, alias).values()}


def test_three_photos_of_one_person_are_one_person_and_the_others_stay_apart(faces_settings, es, indexed):
    _, summary = indexed
    assert summary.indexed == 5 and summary.failed == 0
    assert summary.faces == 5 and summary.faces_not_compared == 0 and summary.new_people == 3
    docs = by_file(es, faces_settings.index_alias)
    assert all(doc["people_count"] == 1 and len(doc["people"]) == 1 for doc in docs.values())
    obama = {docs[name]["people"][0] for name in ("obama.jpg", "obama2.jpg", "obama3.jpg")}
    assert len(obama) == 1
    others = {docs["biden.jpg"]["people"][0], docs["astronaut.jpg"]["people"][0]}
    assert len(others) == 2 and not obama & others
    face = docs["obama3.jpg"]["faces"][0]
    assert face["quality"] == "ok" and face["score"] > 0.3 and face["person"] in obama
    x, y, w, h = face["box"]
    assert 0 <= x < 1 and 0 <= y < 1 and 0.03 < w < 0.5 and 0.03 < h < 0.5


def test_a_face_search_with_one_photo_finds_the_others_with_their_face_box(faces_settings, es, indexed, photos):
    service = SearchService(es, faces_settings)
    result = service.search_faces(parse_filters({}), image=photos["obama.jpg"].read_bytes())
    assert result.compared_faces == 1
    names = [hit.source["file_name"] for hit in result.hits]
    assert names[0] == "obama.jpg" and set(names) == {"obama.jpg", "obama2.jpg", "obama3.jpg"}
    assert all(hit.distance < faces_settings.face_match_distance and len(hit.box) == 4 for hit in result.hits)
    # From an indexed face: the image itself is left out, and the filters apply inside the search.
    docs = {doc["file_name"]: doc_id for doc_id, doc in all_docs(es, faces_settings.index_alias).items()}
    again = service.search_faces(parse_filters({}), image_id=docs["obama2.jpg"], face=0)
    assert {hit.source["file_name"] for hit in again.hits} == {"obama.jpg", "obama3.jpg"}
    narrowed = service.search_faces(parse_filters({"format": ["PNG"]}), image_id=docs["obama2.jpg"], face=0)
    assert narrowed.hits == []


def test_a_person_is_named_found_by_name_merged_split_and_removed(faces_settings, es, indexed):
    service = SearchService(es, faces_settings)
    people = service.people()
    listed, total = people.list()
    assert total == 3 and [p.images for p in listed] == [3, 1, 1]
    obama = listed[0]
    assert obama.cover_image and len(obama.cover_box) == 4
    assert people.rename(obama.id, "Barack").name == "Barack"
    found = service.search(SearchRequest(filters=parse_filters({"person": ["barack"]})))
    assert len(found.hits) == 3
    # Merge the other two into one (a mistake made on purpose), then split it back off.
    docs = by_file(es, faces_settings.index_alias)
    biden, astronaut = docs["biden.jpg"]["people"][0], docs["astronaut.jpg"]["people"][0]
    merged = people.merge(astronaut, into=biden)
    assert merged.id == biden and merged.images == 2
    ids = {doc["file_name"]: doc_id for doc_id, doc in all_docs(es, faces_settings.index_alias).items()}
    split = people.split(biden, [ids["astronaut.jpg"]])
    assert split.images == 1 and split.id not in (biden, astronaut)
    assert by_file(es, faces_settings.index_alias)["astronaut.jpg"]["people"] == [split.id]
    # Removing a person takes their faces (and descriptors) off every image, and their name.
    assert people.remove(obama.id) == 3
    docs = by_file(es, faces_settings.index_alias)
    assert all(docs[n]["faces"] == [] and docs[n]["people"] == [] for n in ("obama.jpg", "obama2.jpg", "obama3.jpg"))
    assert people.resolve(["Barack"]) == ("Barack",)
    assert people.list()[1] == 2


def test_removing_all_faces_leaves_the_images(faces_settings, es, indexed):
    people = SearchService(es, faces_settings).people()
    assert people.remove_all() == 5
    docs = by_file(es, faces_settings.index_alias)
    assert len(docs) == 5 and all("faces" not in doc or doc["faces"] is None for doc in docs.values())
    assert people.list() == ([], 0)


def test_a_face_too_blurred_to_compare_is_kept_as_a_region_and_counted(faces_settings, es, photos, tmp_path):
    from PIL import Image, ImageFilter

    folder = tmp_path / "blurred"
    folder.mkdir()
    Image.open(photos["obama.jpg"]).filter(ImageFilter.GaussianBlur(10)).save(folder / "blurred.jpg", quality=90)
    shutil.copy(photos["obama2.jpg"], folder / "sharp.jpg")
    summary = run_ingest(faces_settings, [folder])
    assert summary.faces == 2 and summary.faces_not_compared == 1 and summary.new_people == 1
    docs = by_file(es, faces_settings.index_alias)
    [face] = docs["blurred.jpg"]["faces"]
    assert face["quality"] == "blurred" and "person" not in face
    assert docs["blurred.jpg"]["people_count"] == 1 and docs["blurred.jpg"]["people"] == []


def test_the_people_command_lists_names_and_removes_them_all(faces_settings, es, indexed):
    def people(*args):
        return imgsearch("people", *args, alias=faces_settings.index_alias, data_dir=faces_settings.data_dir)

    listed = people("list", "--json")
    assert listed.returncode == 0, listed.stderr
    answer = json.loads(listed.stdout)
    assert answer["total"] == 3 and [p["images"] for p in answer["people"]] == [3, 1, 1]
    first = answer["people"][0]["id"]
    named = people("name", first, "Barack")
    assert named.returncode == 0 and "Barack  3 images" in named.stdout
    assert people("group").stdout.startswith("0 faces given a person")
    unknown = people("remove", "nobody")
    assert unknown.returncode != 0 and "no image shows a person" in unknown.stderr and "Traceback" not in unknown.stderr
    refused = people("remove-all")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert by_file(es, faces_settings.index_alias)["obama.jpg"]["people"] == [first]
    done = people("remove-all", "--yes")
    assert done.returncode == 0 and "5 images changed" in done.stdout
    assert json.loads(people("list", "--json").stdout)["total"] == 0
