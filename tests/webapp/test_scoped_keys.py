"""Keys that see only their part, tried as a hostile client would, on a real node: a hospital's images of two
departments, a radiology read key and write key, and a key that sees everything. Every read path answers an
outside image as not found and counts nothing outside; every write outside the scope is refused and changes
nothing."""

from __future__ import annotations

import base64
import uuid

import numpy as np
import pytest
from elasticsearch import helpers

from es_search.apikeys import create_key, keys_index, revoke_key
from es_search.index import delete_index, ensure_index
from ingest.fingerprint import sha256_bytes
from tests.support.ingest_cases import jpeg
from webapp import create_app

RADIOLOGY = {f"r{n}": n for n in range(1, 4)}
CARDIOLOGY = {f"c{n}": n + 10 for n in range(1, 3)}
SHARED_BYTES = jpeg(777, size=(64, 48))  # indexed for cardiology; radiology's writer uploads it too


def doc_id(name: str) -> str:
    return sha256_bytes(SHARED_BYTES) if name == "c3" else name.ljust(64, "0")


@pytest.fixture(scope="module")
def hospital(es, base_settings, tiny_models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hospital")
    settings = base_settings.with_overrides(
        index_alias=f"test-scoped-{uuid.uuid4().hex[:10]}", data_dir=folder / "data", require_read_key=True,
        api_key_cache_seconds=0, image_model=str(tiny_models.image), text_model=str(tiny_models.text))
    ensure_index(es, settings, tiny_models.dims)
    rng = np.random.default_rng(3)
    base = rng.normal(size=tiny_models.dims)
    actions = []
    for name, department in [*[(n, "radiology") for n in RADIOLOGY], *[(n, "cardiology") for n in CARDIOLOGY],
                             ("c3", "cardiology")]:
        vector = base + 0.3 * rng.normal(size=tiny_models.dims)
        sha = doc_id(name)
        thumbnail = f"{sha[:2]}/{sha}.jpg"
        (settings.thumbnails_dir / sha[:2]).mkdir(parents=True, exist_ok=True)
        (settings.thumbnails_dir / thumbnail).write_bytes(jpeg(hash(name) % 1000, size=(32, 24)))
        source = {"sha256": sha, "file_name": f"{name}.jpg", "title": f"{department} study {name}",
                  "department": department, "thumbnail": thumbnail, "format": "JPEG",
                  "image_embedding": (vector / np.linalg.norm(vector)).tolist()}
        if name in ("c1", "r3"):  # a near-duplicate group across the departments, led by cardiology's image
            source.update(duplicate_group=doc_id("c1"), duplicate_representative=name == "c1", duplicate_count=2)
        actions.append({"_index": settings.index_alias, "_id": sha, "_source": source})
    helpers.bulk(es, actions, refresh="wait_for")
    keys = {"radiology": create_key(es, settings, name="radiology-read", scope="read",
                                    filter={"department": ["radiology"]}),
            "radiology-writer": create_key(es, settings, name="radiology-write", scope="write",
                                           filter={"department": ["radiology"]}),
            "everything": create_key(es, settings, name="everything", scope="write")}
    yield settings, keys
    delete_index(es, settings.index_alias)
    es.indices.delete(index=keys_index(settings), ignore_unavailable=True)


@pytest.fixture(scope="module")
def app(hospital):
    return create_app(hospital[0])


def client_for(app, hospital, key: str):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"ApiKey {hospital[1][key]}"
    return client


def ids(answer) -> set[str]:
    return {hit["id"] for hit in answer.json["hits"]}


RADIOLOGY_IDS = {doc_id(n) for n in RADIOLOGY}
CARDIOLOGY_IDS = {doc_id(n) for n in [*CARDIOLOGY, "c3"]}


def test_searches_browse_facets_and_explain_see_only_the_keys_part(app, hospital):
    radiology, everything = client_for(app, hospital, "radiology"), client_for(app, hospital, "everything")
    assert ids(everything.get("/api/search?size=50")) == RADIOLOGY_IDS | CARDIOLOGY_IDS
    assert ids(radiology.get("/api/search?size=50")) == RADIOLOGY_IDS
    text = radiology.get("/api/search", query_string={"q": "a chest study", "size": 50, "facets": "true",
                                                      "explain": "true", "literal": "true"})
    assert ids(text) <= RADIOLOGY_IDS and len(ids(text)) == 3
    assert text.json["matching"] == 3 and text.json["facets"]["department"] == [
        {"value": "radiology", "count": 3, "selected": False}], "no count of the other department"
    asked_outside = radiology.get("/api/search", query_string={"department": "cardiology", "facets": "true"})
    assert asked_outside.json["hits"] == [] and asked_outside.json["matching"] == 0, "a filter cannot widen it"
    facets = radiology.get("/api/facets").json
    assert facets["matching"] == 3 and {e["value"] for e in facets["facets"]["department"]} == {"radiology"}
    understood = radiology.get("/api/search", query_string={"q": "cardiology scans"}).json["query"]["understood"]
    assert understood == [], "a value only outside images hold is not even understood"
    assert everything.get("/api/search", query_string={"q": "cardiology scans"}).json["query"]["understood"]


@pytest.mark.parametrize("path", [
    "/api/images/{c1}", "/api/similar/{c1}", "/api/search?like={c1}", "/api/search?similar={c1}",
    "/api/search?q=x&unlike={c1}", "/image/{c1}", "/original/{c1}", "/video/{c1}", "/api/faces/{c1}/0/similar",
    "/faces/{c1}/0", "/api/similar/{c1}?box=0.1,0.1,0.5,0.5",
])
def test_an_outside_image_is_not_found_by_any_read(app, hospital, path):
    radiology = client_for(app, hospital, "radiology")
    outside = radiology.get(path.format(c1=doc_id("c1")))
    nowhere = radiology.get(path.format(c1="f" * 64))
    assert outside.status_code == nowhere.status_code and outside.status_code in (400, 404), path
    if outside.is_json:
        assert outside.json["error"]["code"] == nowhere.json["error"]["code"], "as if it did not exist"


def test_thumbnails_by_content_hash_and_recommendations(app, hospital):
    radiology, everything = client_for(app, hospital, "radiology"), client_for(app, hospital, "everything")
    inside, outside = doc_id("r1"), doc_id("c1")
    assert radiology.get(f"/thumbnails/{inside[:2]}/{inside}.jpg").status_code == 200
    assert radiology.get(f"/thumbnails/{outside[:2]}/{outside}.jpg").status_code == 404
    assert everything.get(f"/thumbnails/{outside[:2]}/{outside}.jpg").status_code == 200
    recommended = radiology.get("/api/recommend", query_string={"viewed": [outside, inside], "size": 50})
    assert recommended.status_code == 200 and ids(recommended) <= RADIOLOGY_IDS - {inside}
    only_outside = radiology.get("/api/recommend", query_string={"viewed": outside})
    assert only_outside.json["hits"] == [] and only_outside.json["notice"]


def test_duplicate_groups_hold_no_outside_member(app, hospital):
    radiology, everything = client_for(app, hospital, "radiology"), client_for(app, hospital, "everything")
    assert {m["id"] for g in everything.get("/api/duplicates").json["groups"] for m in g["members"]} == {
        doc_id("c1"), doc_id("r3")}
    members = {m["id"] for g in radiology.get("/api/duplicates").json["groups"] for m in g["members"]}
    assert members.isdisjoint(CARDIOLOGY_IDS)
    page = radiology.get(f"/duplicates?group={doc_id('c1')}").get_data(as_text=True)
    assert f'data-id="{doc_id("r3")}"' in page and not any(f'data-id="{c}"' in page for c in CARDIOLOGY_IDS)


def test_writes_stay_inside_and_change_nothing_outside(app, hospital, es):
    settings, _ = hospital
    writer, everything = client_for(app, hospital, "radiology-writer"), client_for(app, hospital, "everything")
    image = base64.b64encode(jpeg(501, size=(64, 48))).decode()
    made = writer.post("/api/images", json={"image_base64": image, "id": "r-new"})
    assert made.status_code == 201 and made.json["image"]["department"] == "radiology", "the filter's value is set"
    crossing = writer.post("/api/images", json={"image_base64": image, "id": "r-cross",
                                                "fields": {"department": "cardiology"}})
    assert (crossing.status_code, crossing.json["error"]["code"]) == (403, "outside_scope")
    assert writer.patch(f"/api/images/{doc_id('c1')}", json={"fields": {"title": "mine"}}).status_code == 404
    assert writer.delete(f"/api/images/{doc_id('c2')}").status_code == 404
    moved = writer.patch(f"/api/images/{doc_id('r1')}", json={"fields": {"department": "cardiology"}})
    assert (moved.status_code, moved.json["error"]["code"]) == (403, "outside_scope")
    taken = writer.post("/api/images", json={"image_base64": image, "id": doc_id("c2")})
    assert (taken.status_code, taken.json["error"]["code"]) == (403, "outside_scope"), "an outside id"
    same_bytes = writer.post("/api/images", json={"image_base64": base64.b64encode(SHARED_BYTES).decode()})
    assert same_bytes.status_code == 409, "the same bytes held outside: not written over"
    bulk_lines = [{"index": {"_id": "r-bulk"}}, {"image_base64": image},
                  {"delete": {"_id": doc_id("c2")}}, {"update": {"_id": doc_id("c1")}}, {"doc": {"title": "x"}},
                  {"index": {"_id": doc_id("c1")}}, {"image_base64": image}]
    import json

    bulk = writer.post("/api/images/_bulk", content_type="application/x-ndjson",
                       data="".join(json.dumps(line) + "\n" for line in bulk_lines))
    statuses = [next(iter(item.values()))["status"] for item in bulk.json["items"]]
    assert statuses[0] in (200, 201) and statuses[1:] == [404, 404, 403], "outside items fail alone"
    es.indices.refresh(index=settings.index_alias)
    cardiology = everything.get("/api/search", query_string={"department": "cardiology", "size": 50})
    assert ids(cardiology) == CARDIOLOGY_IDS, "no outside image added, moved or deleted"
    assert {hit["image"]["title"] for hit in cardiology.json["hits"]} == {
        f"cardiology study {n}" for n in [*CARDIOLOGY, "c3"]}, "none changed"
    for path in ("/api/watchlists", "/api/review"):
        assert writer.get(path).status_code == 403, "the deployment's lists are not a department's"
    assert writer.patch("/api/people/p-000000000000", json={"name": "x"}).status_code == 403


def test_a_revoked_key_is_refused_at_its_next_request(app, hospital, es):
    settings, keys = hospital
    key = create_key(es, settings, name="short-radiology", scope="read", filter={"department": ["radiology"]})
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"ApiKey {key}"
    assert client.get("/api/search").status_code == 200
    revoke_key(es, settings, "short-radiology")
    assert client.get("/api/search").status_code == 401
    assert app.test_client().get("/api/search").status_code == 401, "reads need a key here"
