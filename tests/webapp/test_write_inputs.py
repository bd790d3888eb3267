"""A bulk body's lines (pure): read line by line, broken structure refused whole, bad items failed alone."""

from __future__ import annotations

import base64
import io
import json

import pytest

from es_search.config import Settings
from es_search.errors import QueryError, UploadRejected
from es_search.fields import load_registry
from ingest.write_ops import WriteOp, WriteOutcome
from webapp.write_inputs import bulk_lines, bulk_ops

MAX_BYTES = 1000


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def ops(text: str, registry, max_items: int = 100) -> list:
    return list(bulk_ops(bulk_lines(io.BytesIO(text.encode()), 4000), Settings(max_upload_bytes=MAX_BYTES, write_url_hosts=("example.org",)), registry,
                         max_items))


def ndjson(*lines) -> str:
    return "".join(json.dumps(line) + "\n" for line in lines)


def test_each_action_becomes_an_operation_in_order(registry):
    image = base64.b64encode(b"\x89PNG fake").decode()
    parsed = ops(ndjson({"index": {"_id": "a"}}, {"image_base64": image, "fields": {"title": "A"}},
                        {"create": {}}, {"url": "https://example.org/b.jpg"},
                        {"update": {"_id": "c"}}, {"doc": {"tags": ["x"]}},
                        {"delete": {"_id": "d"}}) + "\n", registry)
    assert [(op.action, op.doc_id) for op in parsed] == [("index", "a"), ("create", None), ("update", "c"),
                                                         ("delete", "d")]
    assert parsed[0].image.data == b"\x89PNG fake" and parsed[0].fields == {"title": "A"}
    assert parsed[1].image.location == "https://example.org/b.jpg"
    assert parsed[2].fields == {"tags": ["x"]}


@pytest.mark.parametrize(("body", "says"), [
    ("{not json\n", "line 1 is not valid JSON"),
    (ndjson({"upsert": {"_id": "a"}}, {"doc": {}}), "unknown action 'upsert'"),
    (ndjson({"index": {}, "delete": {}}), "one key"),
    (ndjson(["index"]), "one key"),
    (ndjson({"index": {"_id": "a", "_index": "other"}}, {}), "at most _id"),
    (ndjson({"update": {"_id": "a"}}), "no source line"),
    (ndjson({"delete": {"_id": "a"}}) + "[1, 2\n", "line 2 is not valid JSON"),
])
def test_broken_structure_refuses_the_whole_body(registry, body, says):
    with pytest.raises(QueryError) as caught:
        ops(body, registry)
    assert caught.value.http_status == 400 and says in str(caught.value)


def test_too_many_operations_or_too_long_a_line_is_413(registry):
    with pytest.raises(UploadRejected) as caught:
        ops(ndjson(*[{"delete": {"_id": f"d{n}"}} for n in range(4)]), registry, max_items=3)
    assert caught.value.http_status == 413 and caught.value.reason == "too_many_items"
    with pytest.raises(UploadRejected) as caught:
        ops(ndjson({"delete": {"_id": "x" * 5000}}), registry)
    assert caught.value.http_status == 413 and "line 1" in str(caught.value)


def test_bad_content_fails_its_item_only(registry):
    parsed = ops(ndjson({"index": {}}, {"image_base64": "!!!not base64"},
                        {"index": {"_id": "a/b"}}, {"url": "https://example.org/x.jpg"},
                        {"index": {}}, {"url": "https://example.org/y.jpg", "fields": {"nope": 1}},
                        {"index": {}}, {"url": "https://example.org/y.jpg", "fields": {"sha256": "0"}},
                        {"index": {}}, {"image_base64": base64.b64encode(b"x" * 2000).decode()},
                        {"update": {}}, {"doc": {"title": "t"}},
                        {"update": {"_id": "u"}}, {"title": "no doc wrapper"},
                        {"delete": {"_id": "ok"}}), registry)
    assert isinstance(parsed[-1], WriteOp) and parsed[-1].doc_id == "ok"
    failures = [(p.error_type, p.status) for p in parsed[:-1]]
    assert all(isinstance(p, WriteOutcome) for p in parsed[:-1])
    assert failures == [("bad_base64", 400), ("bad_id", 400), ("bad_field", 400), ("derived_field", 400),
                        ("too_large", 413), ("bad_id", 400), ("bad_json", 400)]
