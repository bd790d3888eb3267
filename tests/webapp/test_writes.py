"""The write endpoints on a real node with the tiny models: answers, searchability, dedupe, PATCH without
re-encoding, DELETE with the thumbnail, bulk per item, every hostile input's 4xx, and the write block's 503."""

from __future__ import annotations

import base64
import io
import json
import os
import uuid

import pytest

from es_search.apikeys import create_key, keys_index
from es_search.fields import VECTOR_FIELD
from es_search.index import delete_index
from ingest.fingerprint import sha256_bytes
from tests.conftest import QUICK_FETCH
from tests.support.catalogue import write_schema
from tests.support.http_server import Route
from tests.support.ingest_cases import jpeg, png, png_bomb, truncated
from tests.support.s3_server import free_port
from webapp import create_app
from webapp.write_schemas import BulkBody, DeletedBody, WrittenImageBody

MAX_UPLOAD = 300_000


@pytest.fixture(scope="module")
def shop(es, base_settings, tiny_models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("writes")
    settings = base_settings.with_overrides(
        index_alias=f"test-writes-{uuid.uuid4().hex[:12]}", data_dir=folder / "data", fields_file=write_schema(folder),
        image_model=str(tiny_models.image), text_model=str(tiny_models.text), max_upload_bytes=MAX_UPLOAD,
        # Any host and bucket: the address guard is what these tests hold to (the allow-lists have their own).
        write_url_hosts=("*",), write_s3_buckets=("*",))
    yield settings
    delete_index(es, settings.index_alias)
    es.indices.delete(index=keys_index(settings), ignore_unavailable=True)


@pytest.fixture(scope="module")
def app(shop):
    return create_app(shop)


@pytest.fixture(scope="module")
def write_key(es, shop) -> str:
    return create_key(es, shop, name="writes-tests", scope="write")


@pytest.fixture
def client(app, write_key):
    """A client that sends a write key with every request, as an application would."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"ApiKey {write_key}"
    return client


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def vector_of(es, settings, doc_id: str) -> list[float]:
    return es.get(index=settings.index_alias, id=doc_id, source_exclude_vectors=False)["_source"][VECTOR_FIELD]


def test_post_multipart_answers_the_stored_document_searchable_at_once(client):
    data = jpeg(101, size=(240, 160))
    answer = client.post("/api/images", data={"image": (io.BytesIO(data), "blue-bag.jpg"), "id": "sku-1",
                                              "brand": "acme", "price": "19.9", "tags": ["bag", "blue"]},
                         content_type="multipart/form-data")
    assert answer.status_code == 201, answer.json
    body = WrittenImageBody.model_validate(answer.json).model_dump()
    image = body["image"]
    assert (body["id"], body["result"], body["encoded"]) == ("sku-1", "created", True)
    assert (image["width"], image["height"], image["format"], image["byte_size"]) == (240, 160, "JPEG", len(data))
    assert image["color_scheme"] in ("warm", "cool", "neutral") and 0 <= image["brightness"] <= 1
    assert image["dominant_colors"] and image["category"] and 0 < image["category_score"] <= 1
    assert (image["brand"], image["price"], image["tags"], image["title"]) == ("acme", 19.9, ["bag", "blue"], "blue bag")
    assert VECTOR_FIELD not in image and image["sha256"] == sha256_bytes(data)
    assert client.get(body["links"]["thumbnail"]).status_code == 200
    found = client.get("/api/search", query_string={"brand": "acme", "size": 10}).json
    assert "sku-1" in [hit["id"] for hit in found["hits"]]


def test_the_same_bytes_again_are_not_encoded(client, es, shop):
    data = png(102)
    first = client.post("/api/images", json={"image_base64": b64(data), "fields": {"title": "first"}})
    assert first.status_code == 201 and first.json["id"] == sha256_bytes(data) and first.json["encoded"] is True
    again = client.post("/api/images", json={"image_base64": b64(data), "fields": {"title": "first"}})
    assert again.status_code == 200 and (again.json["result"], again.json["encoded"]) == ("noop", False)
    elsewhere = client.post("/api/images", json={"image_base64": b64(data), "id": "copy-1"})
    assert elsewhere.status_code == 201 and elsewhere.json["encoded"] is False
    assert vector_of(es, shop, "copy-1") == vector_of(es, shop, first.json["id"])


def test_patch_changes_fields_without_encoding(client, es, shop):
    client.post("/api/images", json={"image_base64": b64(jpeg(103, size=(90, 90))), "id": "sku-3",
                                     "fields": {"brand": "globex", "price": 5}})
    before = vector_of(es, shop, "sku-3")
    answer = client.patch("/api/images/sku-3", json={"fields": {"price": 7.25, "tags": ["sale"], "brand": None}})
    assert answer.status_code == 200, answer.json
    image = WrittenImageBody.model_validate(answer.json).image
    assert (image["price"], image["tags"], image.get("brand")) == (7.25, ["sale"], None)
    assert answer.json["result"] == "updated" and "encoded" not in answer.json
    assert vector_of(es, shop, "sku-3") == before
    for fields, code in [({"dominant_colors": ["#000000"]}, "derived_field"), ({VECTOR_FIELD: [0.0]}, "derived_field"),
                         ({"sha256": "0" * 64}, "derived_field"), ({"weight": 3}, "bad_field"),
                         ({"stock": "many"}, "bad_field"), ({}, "bad_json")]:
        refused = client.patch("/api/images/sku-3", json={"fields": fields})
        assert (refused.status_code, refused.json["error"]["code"]) == (400, code), fields
    assert client.patch("/api/images/nobody", json={"fields": {"price": 1}}).status_code == 404
    assert client.patch("/api/images/sku-3", data="not json").status_code == 400


def test_delete_removes_the_document_and_its_thumbnail(client):
    created = client.post("/api/images", json={"image_base64": b64(jpeg(104, size=(70, 50))), "id": "gone"}).json
    thumbnail = created["links"]["thumbnail"]
    assert client.get(thumbnail).status_code == 200
    answer = client.delete("/api/images/gone")
    assert answer.status_code == 200 and DeletedBody.model_validate(answer.json).result == "deleted"
    assert client.get("/api/images/gone").status_code == 404
    assert client.get(thumbnail).status_code == 404
    again = client.delete("/api/images/gone")
    assert (again.status_code, again.json["error"]["code"]) == (404, "not_found")


def test_bulk_answers_per_item_like_elasticsearch(client, shop):
    good = [jpeg(110 + n, size=(64, 64)) for n in range(3)]
    lines = [{"index": {"_id": "b1"}}, {"image_base64": b64(good[0]), "fields": {"brand": "initech"}},
             {"create": {}}, {"image_base64": b64(good[1])},
             {"index": {"_id": "b-bad"}}, {"image_base64": b64(b"GIF89a but not really")},
             {"index": {"_id": "b-field"}}, {"image_base64": b64(good[2]), "fields": {"price": "lots"}},
             {"index": {"_id": "b-url"}}, {"url": "http://127.0.0.1:9/private.jpg"},
             {"update": {"_id": "b1"}}, {"doc": {"tags": ["bulk"]}},
             {"update": {"_id": "b-missing"}}, {"doc": {"tags": ["bulk"]}},
             {"delete": {"_id": "b-never"}},
             {"index": {"_id": "b3"}}, {"image_base64": b64(good[2])}]
    body = "".join(json.dumps(line) + "\n" for line in lines)
    answer = client.post("/api/images/_bulk", data=body, content_type="application/x-ndjson")
    assert answer.status_code == 200, answer.json
    result = BulkBody.model_validate(answer.json)
    items = [(action, item.id, item.status, item.error.type if item.error else item.result)
             for entry in result.items for action, item in entry.items()]
    assert result.errors is True
    assert items == [("index", "b1", 201, "created"), ("create", sha256_bytes(good[1]), 201, "created"),
                     ("index", "b-bad", 400, "not_an_image"), ("index", "b-field", 400, "bad_field"),
                     ("index", "b-url", 400, "refused_address"), ("update", "b1", 200, "updated"),
                     ("update", "b-missing", 404, "not_found"), ("delete", "b-never", 404, "not_found"),
                     ("index", "b3", 201, "created")]
    found = client.get("/api/search", query_string={"brand": "initech"}).json
    assert [hit["id"] for hit in found["hits"]] == ["b1"] and found["hits"][0]["image"]["tags"] == ["bulk"]
    broken = client.post("/api/images/_bulk", data='{"index": {}}\n{"url": ', content_type="application/x-ndjson")
    assert broken.status_code == 400 and "line 2" in broken.json["error"]["message"]
    unknown = client.post("/api/images/_bulk", data='{"upsert": {"_id": "x"}}\n{}\n',
                          content_type="application/x-ndjson")
    assert unknown.status_code == 400 and "unknown action" in unknown.json["error"]["message"]


def test_refresh_false_skips_the_wait_and_a_bad_value_is_refused(client):
    fast = client.post("/api/images?refresh=false", json={"image_base64": b64(png(120)), "id": "fast"})
    assert fast.status_code == 201 and fast.json["id"] == "fast"
    bad = client.post("/api/images?refresh=later", json={"image_base64": b64(png(121))})
    assert (bad.status_code, bad.json["error"]["code"]) == (400, "bad_request")


HOSTILE = {
    "not an image": ({"image_base64": b64(b"%PDF-1.4 a document")}, 400, "not_an_image"),
    "truncated": ({"image_base64": b64(truncated(jpeg(130, size=(400, 300))))}, 400, "truncated"),
    "bomb": ({"image_base64": b64(png_bomb())}, 413, "too_many_pixels"),
    "too large": ({"image_base64": b64(os.urandom(MAX_UPLOAD + 10))}, 413, "too_large"),
    "bad base64": ({"image_base64": "not*base64!"}, 400, "bad_base64"),
    "empty": ({"image_base64": ""}, 400, "empty"),
    "unknown field": ({"image_base64": b64(png(131)), "fields": {"colour": "red"}}, 400, "bad_field"),
    "wrong type": ({"image_base64": b64(png(131)), "fields": {"in_stock": "maybe"}}, 400, "bad_field"),
    "derived field": ({"image_base64": b64(png(131)), "fields": {"width": 1}}, 400, "derived_field"),
    "bad id": ({"image_base64": b64(png(131)), "id": "../../etc"}, 400, "bad_id"),
    "long id": ({"image_base64": b64(png(131)), "id": "x" * 600}, 400, "bad_id"),
    "no image": ({"id": "x"}, 400, "missing_image"),
    "two images": ({"image_base64": b64(png(131)), "url": "https://example.org/a.jpg"}, 400, "missing_image"),
    "unknown key": ({"image_base64": b64(png(131)), "vector": [1]}, 400, "bad_json"),
    "not an object": ([1, 2], 400, "bad_json"),
    "loopback url": ({"url": "http://127.0.0.1:9200/_cluster/settings"}, 400, "refused_address"),
    "metadata url": ({"url": "http://169.254.169.254/latest/meta-data/"}, 400, "refused_address"),
    "file path": ({"url": "/etc/passwd"}, 400, "bad_location"),
    "file url": ({"url": "file:///etc/passwd"}, 400, "bad_location"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_input_gets_a_4xx_with_the_ingests_reason(client, case):
    body, status, code = HOSTILE[case]
    answer = client.post("/api/images", json=body)
    assert (answer.status_code, answer.json["error"]["code"]) == (status, code), answer.json


def test_hostile_multipart_uploads(client):
    missing = client.post("/api/images", data={"brand": "acme"}, content_type="multipart/form-data")
    assert (missing.status_code, missing.json["error"]["code"]) == (400, "missing_image")
    wrong = client.post("/api/images", data={"image": (io.BytesIO(png(141)), "a.png"), "price": "cheap"},
                        content_type="multipart/form-data")
    assert (wrong.status_code, wrong.json["error"]["code"]) == (400, "bad_field")
    other_parts = client.post("/api/images", data={"image": (io.BytesIO(png(142)), "a.png"), "submit": "Add"},
                              content_type="multipart/form-data")
    assert other_parts.status_code == 201  # a part that names no field is left alone, as a form's button
    big = client.post("/api/images", data={"image": (io.BytesIO(os.urandom(MAX_UPLOAD + 1)), "big.jpg")},
                      content_type="multipart/form-data")
    assert (big.status_code, big.json["error"]["code"]) == (413, "too_large")
    bad_fields = client.post("/api/images", data={"image": (io.BytesIO(png(140)), "a.png"), "fields": "{oops"},
                             content_type="multipart/form-data")
    assert (bad_fields.status_code, bad_fields.json["error"]["code"]) == (400, "bad_json")
    assert client.delete("/api/images/_bulk").status_code == 405  # no image is called _bulk


def test_images_at_urls_and_in_a_bucket(shop, es, http_server, s3_server, write_key):
    settings = shop.with_overrides(**s3_server.settings_overrides(), **QUICK_FETCH)
    client = create_app(settings).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"ApiKey {write_key}"
    data = jpeg(150, size=(120, 90))
    url = http_server.add("/shop/green-hat.jpg", Route(body=data, content_type="image/jpeg"))
    answer = client.post("/api/images", json={"url": url, "id": "hat"})
    assert answer.status_code == 201, answer.json
    assert answer.json["image"]["sha256"] == sha256_bytes(data) and answer.json["image"]["title"] == "green hat"
    key = s3_server.put(s3_server.create_bucket(), "photos/scarf.jpg", jpeg(151, size=(60, 80)))
    from_bucket = client.post("/api/images", json={"url": key})
    assert from_bucket.status_code == 201 and from_bucket.json["image"]["height"] == 80
    http_server.add("/gone.jpg", Route(status=404))
    for location, code in [(http_server.url("/gone.jpg"), "not_found"),
                           (f"http://127.0.0.1:{free_port()}/closed.jpg", "download_failed"),
                           (f"s3://{key.split('/')[2]}/no-such-key.jpg", "not_found")]:
        refused = client.post("/api/images", json={"url": location})
        assert (refused.status_code, refused.json["error"]["code"]) == (400, code), refused.json


@pytest.mark.parametrize("block", ["index.blocks.write", "index.blocks.read_only_allow_delete"])
def test_a_write_block_answers_503_naming_the_block(client, es, shop, block):
    client.post("/api/images", json={"image_base64": b64(png(160)), "id": "blocked"})
    es.indices.put_settings(index=shop.index_alias, settings={block: True})
    try:
        answers = [client.post("/api/images", json={"image_base64": b64(png(161))}),
                   client.patch("/api/images/blocked", json={"fields": {"price": 2}})]
        deleted = client.delete("/api/images/blocked")
        bulk = client.post("/api/images/_bulk", data='{"update": {"_id": "blocked"}}\n{"doc": {"price": 3}}\n',
                           content_type="application/x-ndjson")
        searched = client.get("/api/search", query_string={"q": "anything"})
    finally:
        es.indices.put_settings(index=shop.index_alias, settings={block: None})
    for answer in answers:
        assert (answer.status_code, answer.json["error"]["code"]) == (503, "index_read_only")
        assert block in answer.json["error"]["message"]
    item = bulk.json["items"][0]["update"]
    assert bulk.status_code == 200 and (item["status"], item["error"]["type"]) == (503, "index_read_only")
    assert searched.status_code == 200  # searches go on under a write block
    # Both blocks refuse a delete through the bulk API too (read_only_allow_delete lets the index itself be
    # deleted, not its documents one by one), naming the block; once lifted, the delete goes through.
    assert (deleted.status_code, deleted.json["error"]["code"]) == (503, "index_read_only")
    assert client.delete("/api/images/blocked").status_code == 200


def test_every_write_is_one_line_of_the_audit_log_without_the_key(client, app, shop, write_key):
    from es_search.audit import read_entries

    before = len(read_entries(shop))
    added = client.post("/api/images", json={"image_base64": b64(jpeg(150, size=(64, 48))), "id": "audited-1"})
    assert client.delete("/api/images/audited-1").status_code == 200
    missing = client.delete("/api/images/never-there")
    items = [{"index": {"_id": "audited-2"}}, {"image_base64": b64(jpeg(151, size=(64, 48)))},
             {"index": {"_id": "audited-3"}}, {"image_base64": "not an image at all"}]
    bulk = client.post("/api/images/_bulk", content_type="application/x-ndjson",
                       data="".join(json.dumps(line) + "\n" for line in items))
    anonymous = app.test_client().delete("/api/images/audited-2")
    client.get("/api/watchlists")  # a read: not audited
    lines = read_entries(shop)[before:]
    assert [(e["action"], e["ids"], e["outcome"], e["status"]) for e in lines] == [
        ("add_image", ["audited-1"], "ok", added.status_code), ("delete_image", ["audited-1"], "ok", 200),
        ("delete_image", ["never-there"], "not_found", missing.status_code),
        ("bulk", ["audited-2", "audited-3"], "ok", 200),
        ("delete_image", ["audited-2"], "unauthenticated", anonymous.status_code)]
    assert [e["actor"] for e in lines] == ["writes-tests"] * 4 + ["anonymous"]
    assert lines[3]["details"] == {"failed": 1} and bulk.json["errors"] is True
    assert lines[0]["request_id"] == added.headers["X-Request-ID"] and lines[0]["collection"] == shop.index_alias
    assert write_key not in (shop.data_dir / "audit.log").read_text(), "never the key"


def test_the_write_api_fetches_only_from_listed_hosts_and_buckets(shop, http_server, s3_server, write_key):
    data = jpeg(170, size=(64, 48))
    listed = http_server.add("/listed/cap.jpg", Route(body=data, content_type="image/jpeg"))
    bucket = s3_server.create_bucket()
    key = s3_server.put(bucket, "cap.jpg", data)
    settings = shop.with_overrides(**s3_server.settings_overrides(), **QUICK_FETCH, write_url_hosts=("127.0.0.1",),
                                   write_s3_buckets=("some-other-bucket",))
    client = create_app(settings).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"ApiKey {write_key}"
    assert client.post("/api/images", json={"url": listed, "id": "listed-cap"}).status_code == 201
    for location in (listed.replace("127.0.0.1", "localhost"), key):
        refused = client.post("/api/images", json={"url": location})
        assert (refused.status_code, refused.json["error"]["code"]) == (403, "location_not_allowed"), location
        assert "IMGSEARCH_WRITE_" in refused.json["error"]["message"]
    bulk = client.post("/api/images/_bulk", content_type="application/x-ndjson", data=json.dumps(
        {"index": {}}) + "\n" + json.dumps({"url": key}) + "\n")
    assert bulk.json["items"][0]["index"]["error"]["type"] == "location_not_allowed", "in a bulk, that item alone"
    nothing = create_app(shop.with_overrides(write_url_hosts=(), write_s3_buckets=())).test_client()
    nothing.environ_base["HTTP_AUTHORIZATION"] = f"ApiKey {write_key}"
    assert nothing.post("/api/images", json={"url": listed}).status_code == 403, "by default: nothing"
