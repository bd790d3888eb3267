"""Faces and people through the JSON API: a face search by upload and by an indexed face, the people list,
and naming, merging, splitting and removing a person with a write key (reads need none); and in the gallery:
face boxes on the image page, the face search pages, and the People page renaming someone in a real browser."""

from __future__ import annotations

import io
import shutil
import uuid

import pytest

from es_search.apikeys import create_key, keys_index
from es_search.faces.engine import faces_available
from es_search.index import delete_index
from ingest.runner import run_ingest
from tests.support.browser import chromium, serving
from tests.support.face_photos import astronaut_jpeg, face_photos
from webapp import create_app

pytestmark = pytest.mark.skipif(not faces_available(), reason="needs `make setup-faces`")


@pytest.fixture(scope="module")
def people_index(es, base_settings, tiny_models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("faces-api")
    settings = base_settings.with_overrides(
        index_alias=f"test-faces-{uuid.uuid4().hex[:12]}", data_dir=folder / "data", faces="on",
        image_model=str(tiny_models.image), text_model=str(tiny_models.text))
    photos = folder / "photos"
    photos.mkdir()
    for name, path in face_photos(base_settings.es_cache_dir).items():
        shutil.copy(path, photos / name)
    astronaut_jpeg(photos / "astronaut.jpg")
    assert run_ingest(settings, [photos]).indexed == 5
    yield settings
    delete_index(es, settings.index_alias)
    es.indices.delete(index=[keys_index(settings), f"{settings.index_alias}-people"], ignore_unavailable=True)


@pytest.fixture(scope="module")
def app(people_index):
    return create_app(people_index)


@pytest.fixture(scope="module")
def write_key(es, people_index) -> str:
    return create_key(es, people_index, name="faces-tests", scope="write")


def ids_by_file(client) -> dict:
    hits = client.get("/api/search?size=10").get_json()["hits"]
    return {hit["image"]["file_name"]: hit["id"] for hit in hits}


def test_a_face_search_by_upload_ranks_the_same_person_first_with_the_face_box(app, people_index):
    client = app.test_client()
    photo = face_photos(people_index.es_cache_dir)["obama2.jpg"].read_bytes()
    answer = client.post("/api/search/faces", data={"image": (__import__("io").BytesIO(photo), "q.jpg")})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert [f["quality"] for f in body["query_faces"]] == ["ok"]
    names = [hit["image"]["file_name"] for hit in body["hits"]]
    assert names[0] == "obama2.jpg" and set(names) == {"obama.jpg", "obama2.jpg", "obama3.jpg"}
    assert all(len(hit["box"]) == 4 and hit["distance"] < body["threshold"] for hit in body["hits"])
    assert "vector" not in body["hits"][0]["image"]["faces"][0]


def test_an_indexed_face_finds_the_others_and_a_bad_face_number_is_a_400(app):
    client = app.test_client()
    ids = ids_by_file(client)
    answer = client.get(f"/api/faces/{ids['obama3.jpg']}/0/similar").get_json()
    assert {hit["image"]["file_name"] for hit in answer["hits"]} == {"obama.jpg", "obama2.jpg"}
    assert client.get(f"/api/faces/{ids['obama3.jpg']}/5/similar").status_code == 400
    deep = client.get(f"/api/faces/{ids['obama3.jpg']}/0/similar?page=9999").get_json()
    assert deep["hits"] == [] and deep["has_next"] is False
    assert client.get("/api/faces/no-such-image/0/similar").status_code == 404


# --------------------------------------------------------------------------- the gallery


def test_the_gallery_shows_faces_on_the_image_page_and_searches_by_one(app):
    client = app.test_client()
    ids = ids_by_file(client)
    page = client.get(f"/image/{ids['obama2.jpg']}").get_data(as_text=True)
    assert 'class="face-boxes"' in page and page.count('class="face-box"') == 1
    similar = f"/faces/{ids['obama2.jpg']}/0"
    assert f'href="{similar}"' in page and 'class="person-link"' in page
    results = client.get(similar).get_data(as_text=True)
    shown = [ids_name for ids_name, image_id in ids.items() if f'data-id="{image_id}"' in results]
    assert sorted(shown) == ["obama.jpg", "obama3.jpg"]
    assert results.count('class="face-box matched"') == 2
    photo = face_photos(app.extensions["imgsearch_settings"].es_cache_dir)
    upload = client.post("/search/faces", data={"image": (io.BytesIO(photo["biden.jpg"].read_bytes()), "b.jpg")})
    assert upload.status_code == 200
    assert f'data-id="{ids["biden.jpg"]}"' in upload.get_data(as_text=True)
    assert client.get(f"/faces/{ids['obama2.jpg']}/9").status_code == 400


@pytest.mark.browser
def test_the_people_page_renames_a_person_with_a_write_key(app, write_key, tmp_path):
    client = app.test_client()
    listing = client.get("/people").get_data(as_text=True)
    assert listing.count('class="card person"') == client.get("/api/people").get_json()["total"]
    assert 'class="face-crop"' in listing
    with chromium() as browser, serving(app) as url:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: dialog.accept(write_key))  # the write key, asked for once
        page.goto(url + "/people")
        person = page.locator(".card.person").first
        person_id = person.get_attribute("data-person")
        person.locator("input[name=name]").fill("Joe Doe")
        with page.expect_navigation():
            person.locator("form.person-action[data-method=PATCH] button").click()
        assert page.locator(f'.card.person[data-person="{person_id}"] .person-name').inner_text() == "Joe Doe"
        page.screenshot(path=str(tmp_path / "people.png"))
        assert errors == []
    assert client.get(f"/api/people/{person_id}").get_json()["name"] == "Joe Doe"
    client.patch(f"/api/people/{person_id}", json={"name": ""}, headers={"Authorization": f"ApiKey {write_key}"})


def test_people_are_listed_named_merged_split_and_removed_with_a_write_key(app, write_key):
    client = app.test_client()
    people = client.get("/api/people").get_json()
    assert people["total"] == 3 and [p["images"] for p in people["people"]] == [3, 1, 1]
    obama, first, second = (p["id"] for p in people["people"])
    assert client.patch(f"/api/people/{obama}", json={"name": "Barack"}).status_code in (401, 403)
    client.environ_base["HTTP_AUTHORIZATION"] = f"ApiKey {write_key}"
    assert client.patch(f"/api/people/{obama}", json={"name": "Barack"}).get_json()["name"] == "Barack"
    assert client.patch(f"/api/people/{first}", json={"name": "barack"}).status_code == 409
    assert len(client.get("/api/search?person=Barack").get_json()["hits"]) == 3
    understood = client.get("/api/search?q=barack+at+a+desk").get_json()
    assert understood["query"]["understood"] == [{"text": "barack", "kind": "value", "param": "person",
                                                  "value": "Barack"}], "a name is understood once it is given"
    assert len(understood["hits"]) == 3
    facets = client.get("/api/facets").get_json()["facets"]
    assert {(v["value"], v["count"]) for v in facets["person"]} == {(obama, 3), (first, 1), (second, 1)}
    assert {(v["value"], v["count"]) for v in facets["people_count"]} == {("1", 5)}
    assert client.post(f"/api/people/{first}/merge", json={"into": first}).status_code == 409
    assert client.post("/api/people/p-000000000000/merge", json={"into": first}).status_code == 404
    merged = client.post(f"/api/people/{second}/merge", json={"into": first}).get_json()
    assert merged["id"] == first and merged["images"] == 2
    moved = client.get(f"/api/search?person={first}").get_json()["hits"][0]["id"]
    split = client.post(f"/api/people/{first}/split", json={"images": [moved]}).get_json()
    assert split["images"] == 1 and split["id"] not in (first, second)
    assert client.post(f"/api/people/{first}/split", json={"images": ["not-theirs"]}).status_code == 400
    removed = client.delete(f"/api/people/{obama}").get_json()
    assert removed == {"id": obama, "images": 3}
    assert client.get(f"/api/people/{obama}").status_code == 404
    assert client.get("/api/search?person=Barack").get_json()["hits"] == []

