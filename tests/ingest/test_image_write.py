"""The write API's ingest on a real node with the tiny models: documents as the ingest makes them,
searchable on return, the same bytes never encoded twice, batches, deletes with their thumbnails, blocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from es_search.fields import VECTOR_FIELD
from es_search.remote import RemoteReader
from es_search.search import SearchService
from ingest.fingerprint import sha256_bytes
from ingest.image_write import API_SOURCE, ImageWriter
from ingest.thumbnails import thumbnail_relpath
from ingest.write_ops import ImageInput, WriteOp
from tests.support.catalogue import write_schema
from tests.support.ingest_cases import jpeg, png, truncated


class CountingModels:
    """The service's real models, with a count of the images the image model was given."""

    def __init__(self, service: SearchService):
        self.service = service
        self.encoded = 0
        self.calls = 0

    @property
    def text_encoder(self):
        return self.service.text_encoder

    @property
    def image_encoder(self):
        return self

    @property
    def name(self):
        return self.service.image_encoder.name

    @property
    def dims(self):
        return self.service.image_encoder.dims

    def encode_images(self, images):
        self.calls += 1
        self.encoded += len(images)
        return self.service.image_encoder.encode_images(images)


@pytest.fixture
def shop(tiny_settings, es, tmp_path):
    settings = tiny_settings.with_overrides(fields_file=write_schema(tmp_path))
    models = CountingModels(SearchService(es, settings))
    with RemoteReader(settings) as reader:
        yield ImageWriter(es, settings, models, reader), settings, models


def image_op(data: bytes, doc_id: str | None = None, **fields) -> WriteOp:
    return WriteOp("index", doc_id, fields, ImageInput(data=data, name="red-shoe.jpg"))


def stored(es, settings, doc_id: str) -> dict:
    return es.get(index=settings.index_alias, id=doc_id, source_exclude_vectors=False)["_source"]


def thumbnail_of(settings, data: bytes) -> Path:
    return Path(settings.thumbnails_dir) / thumbnail_relpath(sha256_bytes(data))


def test_an_image_is_indexed_with_what_the_ingest_derives_and_searchable_on_return(shop, es):
    writer, settings, models = shop
    data = jpeg(1, size=(200, 150))
    [outcome] = writer.apply([image_op(data, "sku-1", brand="acme", price=12.5, tags=["shoe"])])
    assert (outcome.ok, outcome.status, outcome.result, outcome.encoded) == (True, 201, "created", True)
    doc = stored(es, settings, "sku-1")
    assert doc["sha256"] == sha256_bytes(data) and doc["image_id"] == "sku-1"
    assert (doc["width"], doc["height"], doc["format"], doc["byte_size"]) == (200, 150, "JPEG", len(data))
    assert doc["color_scheme"] in ("warm", "cool", "neutral") and 0 <= doc["brightness"] <= 1
    assert doc["dominant_colors"] and all(c.startswith("#") for c in doc["dominant_colors"])
    assert doc["category"] in settings.categories and 0 < doc["category_score"] <= 1
    assert (doc["brand"], doc["price"], doc["tags"]) == ("acme", 12.5, ["shoe"])
    assert doc["title"] == "red shoe" and doc["file_name"] == "red-shoe.jpg" and doc["sources"] == [API_SOURCE]
    assert len(doc[VECTOR_FIELD]) == models.dims and thumbnail_of(settings, data).is_file()
    # refresh=wait_for: a search (not a realtime get) finds it without any refresh of ours
    hits = es.search(index=settings.index_alias, query={"term": {"brand": "acme"}})["hits"]["hits"]
    assert [hit["_id"] for hit in hits] == ["sku-1"]


def test_the_same_bytes_are_never_encoded_twice(shop, es):
    writer, settings, models = shop
    data = png(2)
    [first] = writer.apply([image_op(data)])
    assert first.doc_id == sha256_bytes(data) and first.encoded is True and models.encoded == 1
    vector = stored(es, settings, first.doc_id)[VECTOR_FIELD]
    [again] = writer.apply([image_op(data, title="New title")])
    assert (again.status, again.result, again.encoded) == (200, "updated", False)
    [same] = writer.apply([image_op(data, title="New title")])
    assert (same.result, same.encoded) == ("noop", False)
    [other_id] = writer.apply([image_op(data, "sku-9", brand="globex")])
    assert (other_id.status, other_id.result, other_id.encoded) == (201, "created", False)
    assert models.encoded == 1  # only the first write ran the model
    assert stored(es, settings, first.doc_id)["title"] == "New title"
    assert stored(es, settings, "sku-9")[VECTOR_FIELD] == vector == stored(es, settings, first.doc_id)[VECTOR_FIELD]


def test_a_batch_encodes_once_and_fails_bad_images_alone(shop, es):
    writer, settings, models = shop
    good = [jpeg(10 + n, size=(64, 48)) for n in range(3)]
    bad = truncated(jpeg(20, size=(300, 200)))
    ops = [image_op(good[0], "a"), image_op(b"not an image at all", "b"), image_op(good[1], "c"),
           image_op(bad, "d"), image_op(good[2], "e"), image_op(good[0], "f"),
           WriteOp("index", "g", {}, ImageInput(location="/etc/passwd"))]
    outcomes = writer.apply(ops, refresh="false")
    assert [(o.doc_id, o.status, o.error_type or o.result) for o in outcomes] == [
        ("a", 201, "created"), ("b", 400, "not_an_image"), ("c", 201, "created"), ("d", 400, "truncated"),
        ("e", 201, "created"), ("f", 201, "created"), ("g", 400, "bad_location")]
    assert models.calls == 1 and models.encoded == 3  # one batch; the shared content once
    assert not thumbnail_of(settings, bad).exists()


def test_update_changes_fields_only_and_delete_takes_the_thumbnail_with_the_last_document(shop, es):
    writer, settings, models = shop
    data = jpeg(30, size=(80, 60))
    writer.apply([image_op(data, "x"), image_op(data, "y")])
    vector = stored(es, settings, "x")[VECTOR_FIELD]
    [updated] = writer.apply([WriteOp("update", "x", {"price": 3.0, "title": None})])
    assert (updated.status, updated.result, updated.encoded) == (200, "updated", None)
    doc = stored(es, settings, "x")
    assert doc["price"] == 3.0 and doc.get("title") is None and doc[VECTOR_FIELD] == vector
    assert models.encoded == 1
    [missing] = writer.apply([WriteOp("update", "nobody", {"price": 1.0})])
    assert (missing.status, missing.error_type) == (404, "not_found")
    [deleted] = writer.apply([WriteOp("delete", "x")])
    assert deleted.result == "deleted" and thumbnail_of(settings, data).is_file()  # "y" still shows it
    [deleted] = writer.apply([WriteOp("delete", "y")])
    assert deleted.result == "deleted" and not thumbnail_of(settings, data).exists()
    [gone] = writer.apply([WriteOp("delete", "y")])
    assert (gone.status, gone.result) == (404, "not_found")
    assert es.count(index=settings.index_alias)["count"] == 0


def test_create_refuses_an_existing_id(shop):
    writer, _, _ = shop
    data = png(40)
    writer.apply([image_op(data, "c1")])
    [conflict] = writer.apply([WriteOp("create", "c1", {}, ImageInput(data=png(41)))])
    assert (conflict.status, conflict.error_type) == (409, "version_conflict_engine_exception")


@pytest.mark.parametrize("block", ["index.blocks.write", "index.blocks.read_only_allow_delete"])
def test_a_write_block_is_named_and_nothing_is_left_behind(shop, es, block):
    writer, settings, models = shop
    writer.apply([image_op(png(50), "before")])
    es.indices.put_settings(index=settings.index_alias, settings={block: True})
    try:
        data = png(51)
        [refused] = writer.apply([image_op(data, "during")])
        [refused_update] = writer.apply([WriteOp("update", "before", {"price": 1.0})])
    finally:
        es.indices.put_settings(index=settings.index_alias, settings={block: None})
    for outcome in (refused, refused_update):
        assert (outcome.status, outcome.error_type) == (503, "index_read_only")
        assert block in outcome.reason
    assert not thumbnail_of(settings, data).exists()
    assert not es.exists(index=settings.index_alias, id="during")
    [after] = writer.apply([image_op(data, "during")])
    assert after.result == "created" and thumbnail_of(settings, data).is_file()
