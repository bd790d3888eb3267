"""What a write may set: registry-checked fields (the records ingest's conversions), derived fields refused, ids."""

from __future__ import annotations

import pytest

from es_search.errors import WriteRejected
from es_search.fields import VECTOR_FIELD, load_registry
from ingest.write_fields import check_fields, check_write_id
from ingest.write_ops import ImageInput, WriteOp, block_setting, item_outcome, read_only_message
from tests.support.catalogue import write_schema


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    return load_registry(write_schema(tmp_path_factory.mktemp("schema")))


def test_fields_are_converted_to_their_registry_types(registry):
    fields = check_fields({"title": "Red shoe", "tags": ["shoe", " red "], "brand": " acme ", "price": 9.5,
                           "stock": 3, "in_stock": True, "released": "2024-01-31", "caption": None}, registry)
    assert fields == {"title": "Red shoe", "tags": ["shoe", "red"], "brand": "acme", "price": 9.5, "stock": 3,
                      "in_stock": True, "released": "2024-01-31", "caption": None}


@pytest.mark.parametrize(("fields", "reason", "named"), [
    ({"colour_of_the_day": "red"}, "bad_field", "colour_of_the_day"),
    ({"price": "cheap"}, "bad_field", "price"),
    ({"price": "9.5"}, "bad_field", "expected a number"),  # JSON states its types: a number is a number
    ({"in_stock": "yes"}, "bad_field", "true or false"),
    ({"stock": 2.5}, "bad_field", "stock"),
    ({"stock": 2**40}, "bad_field", "out of range"),
    ({"in_stock": "perhaps"}, "bad_field", "in_stock"),
    ({"released": "last tuesday"}, "bad_field", "released"),
    ({"brand": {"nested": 1}}, "bad_field", "brand"),
    ({"sha256": "0" * 64}, "derived_field", "sha256"),
    ({VECTOR_FIELD: [0.1]}, "derived_field", VECTOR_FIELD),
    ({"model": "x"}, "derived_field", "model"),
    ({"dominant_colors": ["#ffffff"]}, "derived_field", "dominant_colors"),
    ({"paths": ["/etc/passwd"]}, "derived_field", "paths"),
    (["title"], "bad_json", "JSON object"),
])
def test_bad_fields_are_refused_with_a_reason(registry, fields, reason, named):
    with pytest.raises(WriteRejected) as caught:
        check_fields(fields, registry)
    assert caught.value.reason == reason and caught.value.http_status == 400
    assert named in str(caught.value)


@pytest.mark.parametrize("raw", ["", "  ", " sku-1 ", "a/b", "x" * 129, "tab\there", "_bulk", 12, None])
def test_bad_ids_are_refused(raw):
    with pytest.raises(WriteRejected) as caught:
        check_write_id(raw)
    assert caught.value.reason == "bad_id"


def test_a_good_id_is_kept_as_it_is():
    assert check_write_id("sku-1") == "sku-1"
    assert check_write_id("产品-7") == "产品-7"


def test_form_fields_are_text_and_parsed_like_a_records_file(registry):
    assert check_fields({"price": "9.5", "in_stock": "yes"}, registry, strict=False) == {"price": 9.5,
                                                                                         "in_stock": True}


@pytest.mark.parametrize(("reason", "setting"), [
    ("index [x] blocked by: [FORBIDDEN/8/index write (api)];", "index.blocks.write"),
    ("index [x] blocked by: [TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark, index has "
     "read-only-allow-delete block; for more information, see ...];", "index.blocks.read_only_allow_delete"),
    ("index [x] blocked by: [FORBIDDEN/5/index read-only (api)];", "index.blocks.read_only"),
])
def test_a_block_is_named_by_its_setting(reason, setting):
    assert block_setting(reason) == setting
    assert setting in read_only_message("images", reason)


def test_a_bulk_item_blocked_by_a_write_block_is_index_read_only():
    op = WriteOp("index", "a", {}, ImageInput(data=b"x"))
    item = {"_id": "a", "status": 403, "error": {
        "type": "cluster_block_exception", "reason": "index [x] blocked by: [FORBIDDEN/8/index write (api)];"}}
    outcome = item_outcome(op, item, "images", True)
    assert outcome.status == 503 and outcome.error_type == "index_read_only"
    error = outcome.to_error()
    assert error.http_status == 503 and error.code == "index_read_only" and "index.blocks.write" in str(error)
    assert outcome.to_item()["index"]["error"]["type"] == "index_read_only"
