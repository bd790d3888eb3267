"""Every source feeds the same stages: the same image with the same fields makes the same document whether it
came from a folder, a records file, an s3:// prefix or the write API (each in an index of its own, so each
encodes it itself); only what says where it came from differs. And the rules of one place hold for all."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from es_search.apikeys import create_key, keys_index
from es_search.config import Settings
from es_search.dicom.tags import DICOM_FIELDS
from es_search.fields import VECTOR_FIELD
from es_search.index import delete_index
from es_search.remote import RemoteReader
from es_search.search import SearchService
from ingest.document import BASE_CONTENT_KEYS
from ingest.enrichers import build_enrichers
from ingest.image_write import ImageWriter
from ingest.items import Item
from ingest.runner import run_ingest, run_prefix_ingest, run_records_ingest
from ingest.write_ops import ImageInput, WriteOp
from tests.support.catalogue import write_csv
from tests.support.ingest_cases import jpeg
from webapp import create_app

FIELDS = {"title": "Red shoe", "tags": ["shoe", "red"]}
# What says where a document came from, and when: the rest must be the same for every source.
PLACE_KEYS = {"paths", "relative_path", "sources", "record_digest", "image_id", "indexed_at", "file_modified_at",
              "file_name"}


@pytest.fixture
def alias_of(tiny_settings, es):
    made = []

    def settings_for(name: str):
        settings = tiny_settings.with_overrides(index_alias=f"{tiny_settings.index_alias}-{name}")
        made.append(settings.index_alias)
        return settings

    yield settings_for
    for alias in made:
        delete_index(es, alias)


def only_document(es, settings) -> dict:
    es.indices.refresh(index=settings.index_alias)
    hits = es.search(index=settings.index_alias, query={"match_all": {}}, source_exclude_vectors=False)["hits"]
    assert hits["total"]["value"] == 1
    return hits["hits"][0]["_source"]


def test_each_source_makes_the_same_document_of_the_same_image_and_fields(alias_of, es, s3_server, tmp_path):
    data = jpeg(4242, size=(320, 240))
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "red-shoe.jpg").write_bytes(data)
    documents = {}

    settings = alias_of("folder")
    run_ingest(settings, [folder], metadata_for=lambda path: FIELDS)
    documents["folder"] = only_document(es, settings)

    settings = alias_of("records")
    rows = write_csv(tmp_path / "rows.csv", [{"image": str(folder / "red-shoe.jpg"), "title": FIELDS["title"],
                                              "tags": "shoe"}])
    run_records_ingest(settings, rows)
    documents["records"] = only_document(es, settings)

    settings = alias_of("prefix").with_overrides(**s3_server.settings_overrides())
    bucket = s3_server.create_bucket()
    s3_server.put(bucket, "shop/red-shoe.jpg", data)
    run_prefix_ingest(settings, f"s3://{bucket}/shop/")
    documents["prefix"] = only_document(es, settings)

    settings = alias_of("upload")
    with RemoteReader(settings) as reader:
        writer = ImageWriter(es, settings, SearchService(es, settings), reader)
        [outcome] = writer.apply([WriteOp("index", None, FIELDS, ImageInput(data=data, name="red-shoe.jpg"))])
    assert outcome.ok
    documents["upload"] = only_document(es, settings)

    content = {source: {k: v for k, v in doc.items() if k not in PLACE_KEYS | {"title", "tags"}}
               for source, doc in documents.items()}
    # A JPEG has no DICOM tags; the rest of a content part it has.
    assert set(content["folder"]) >= set(BASE_CONTENT_KEYS) - {"taken_at", "file_modified_at", *DICOM_FIELDS}
    assert set(content["folder"]) >= {"color_scheme", "phash", "category"}  # the enrichers' fields
    for source in ("records", "prefix", "upload"):
        vector, expected = content[source].pop(VECTOR_FIELD), dict(content["folder"])
        assert vector == pytest.approx(expected.pop(VECTOR_FIELD), abs=1e-6), source
        assert content[source] == expected, source
    # The fields each source gave, and the name each gives a document of this file.
    assert documents["folder"]["title"] == documents["upload"]["title"] == documents["records"]["title"] == "Red shoe"
    assert documents["folder"]["tags"] == documents["upload"]["tags"] == ["shoe", "red"]
    assert documents["prefix"]["title"] == "red shoe"  # an object without a record: its file name's words
    assert {doc["file_name"] for doc in documents.values()} == {"red-shoe.jpg"}
    assert documents["records"]["sources"] == [str(rows.resolve())] and documents["upload"]["sources"] == ["api"]
    assert "sources" not in documents["folder"]  # a folder's documents are known by their paths


def test_an_id_with_a_slash_is_refused_by_records_writes_and_reads_alike(tiny_settings, es, tmp_path):
    image = tmp_path / "a.jpg"
    image.write_bytes(jpeg(7, size=(64, 48)))
    rows = write_csv(tmp_path / "rows.csv", [{"id": "shoes/red", "image": str(image)}])
    summary = run_records_ingest(tiny_settings, rows)
    assert (summary.indexed, summary.failed, summary.failure_reasons) == (0, 1, {"bad_record": 1})
    report = [json.loads(line) for line in open(summary.report, encoding="utf-8")][0]
    client = create_app(tiny_settings).test_client()
    key = create_key(es, tiny_settings, name=f"ids-{uuid.uuid4().hex[:6]}", scope="write")
    try:
        client.environ_base["HTTP_AUTHORIZATION"] = f"ApiKey {key}"
        written = client.post("/api/images", json={"image_base64": base64.b64encode(image.read_bytes()).decode(),
                                                   "id": "shoes/red"})
        read = client.get("/api/similar/" + "shoes%2Fred")
        liked = client.get("/api/search", query_string={"q": "a", "like": "shoes/red"})
    finally:
        es.indices.delete(index=keys_index(tiny_settings), ignore_unavailable=True)
    rule = "1 to 128 characters without spaces, control characters or '/'"
    assert rule in report["message"]
    assert written.status_code == 400 and written.json["error"]["code"] == "bad_id" and rule in written.json[
        "error"]["message"]
    assert read.status_code in (400, 404)  # a slash ends the path segment: no image route matches
    assert liked.status_code == 400 and "like breaks the rule" in liked.json["error"]["message"]


def test_items_know_their_name_and_place_whatever_the_source():
    assert Item("/p/a-b.jpg").file_name == "a-b.jpg" and Item("/p/a-b.jpg").label == "/p/a-b.jpg"
    assert Item(None, name="up.png").file_name == "up.png"
    assert Item(None, origin="api", line=3).label == "api:3" and Item(None).file_name is None
    pixels = ["colors", "phash", "phash_trimmed"]
    assert [e.name for e in build_enrichers(Settings(ocr="off"))] == pixels  # no text encoder: no category
    assert [e.name for e in build_enrichers(Settings(ocr="on"))] == [*pixels, "ocr"]
