"""Records files: rows become items with converted values, problems of a row against problems of the file."""

from __future__ import annotations

import json

import pytest

from es_search.fields import load_registry
from ingest.items import Item, ItemProblem
from ingest.records import (
    RecordColumns,
    RecordProblem,
    RecordsFileError,
    check_records_file,
    read_records,
    record_from_row,
)
from tests.support.catalogue import write_schema


@pytest.fixture
def columns(tmp_path) -> RecordColumns:
    return RecordColumns.from_registry(load_registry(write_schema(tmp_path)))


def test_a_row_becomes_a_record_with_a_resolved_location_and_a_digest(columns, tmp_path):
    record = record_from_row({"id": "SKU-1", "image": "img/a.jpg", "price": "3"}, 2, columns, tmp_path)
    assert (record.record_id, record.location, dict(record.fields)) == ("SKU-1", str(tmp_path / "img" / "a.jpg"),
                                                                        {"price": 3.0})
    same = record_from_row({"id": "SKU-1", "image": "img/a.jpg", "price": "3.0"}, 9, columns, tmp_path)
    other = record_from_row({"id": "SKU-1", "image": "img/a.jpg", "price": "4"}, 2, columns, tmp_path)
    assert record.digest == same.digest != other.digest
    url = record_from_row({"image": "https://example.org/a.jpg"}, 3, columns, tmp_path)
    assert (url.record_id, url.location) == (None, "https://example.org/a.jpg")


@pytest.mark.parametrize(("row", "words"), [
    ({"id": "1", "image": ""}, "no image"),
    ({"id": "1", "image": "ftp://host/a.jpg"}, "unsupported scheme"),
    ({"id": "1", "image": "a.jpg", "price": "x"}, r"column 'price' \(float\): expected a number"),
    ({"id": "x" * 600, "image": "a.jpg"}, "1 to 128 characters"),
    ({"id": "a/b", "image": "a.jpg"}, "without spaces, control characters or '/'"),
    ({"id": "_bulk", "image": "a.jpg"}, "not starting with '_'"),
])
def test_a_bad_row_is_a_record_problem(columns, tmp_path, row, words):
    with pytest.raises(RecordProblem, match=words) as caught:
        record_from_row(row, 7, columns, tmp_path)
    assert caught.value.line == 7 and caught.value.reason == "bad_record"


def test_derived_builtin_fields_are_not_settable_but_descriptive_ones_are(columns):
    assert {"title", "caption", "tags", "brand"} <= set(columns.settable)
    assert not {"width", "sha256", "dominant_colors", "paths", "image_embedding"} & set(columns.settable)
    assert columns.undeclared(["image", "id", "brand", "width", "colour"]) == ["width", "colour"]


def test_an_undeclared_column_stops_the_whole_file_before_anything(columns, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("id,image,brand,warehouse\n1,a.jpg,acme,north\n", encoding="utf-8")
    with pytest.raises(RecordsFileError, match="warehouse") as caught:
        check_records_file(path, columns)
    assert caught.value.exit_code == 2
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text(json.dumps({"image": "a.jpg"}) + "\n" + json.dumps({"image": "b.jpg", "width": 3}) + "\n")
    with pytest.raises(RecordsFileError, match="width"):
        check_records_file(jsonl, columns)


def test_a_file_that_is_not_utf8_or_lacks_the_image_column_is_refused(columns, tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes("image,brand\na.jpg,Citro\xebn\n".encode("latin-1"))
    with pytest.raises(RecordsFileError, match="not UTF-8"):
        check_records_file(latin, columns)
    no_image = tmp_path / "no-image.csv"
    no_image.write_text("id,brand\n1,acme\n")
    with pytest.raises(RecordsFileError, match="no 'image' column"):
        check_records_file(no_image, columns)
    with pytest.raises(RecordsFileError, match=".csv, .jsonl"):
        check_records_file(tmp_path / "rows.xlsx", columns)


def test_reading_streams_records_and_problems_in_order(columns, tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join([
        json.dumps({"id": "a", "image": "a.jpg", "tags": ["red", "new"], "in_stock": True}),
        "{not json",
        "[1, 2]",
        "",
        json.dumps({"id": "d", "image": "d.jpg", "price": "free"}),
    ]) + "\n", encoding="utf-8")
    checked = check_records_file(path, columns)
    items = list(read_records(checked, columns))
    assert checked.rows == 4
    assert [type(i) for i in items] == [Item, ItemProblem, ItemProblem, ItemProblem]
    assert items[0].origin == str(path.resolve()) and items[1].label == f"{path.resolve()}:2"
    assert items[0].fields == {"tags": ["red", "new"], "in_stock": True}
    assert [i.line for i in items] == [1, 2, 3, 5]
    assert items[3].record_id == "d" and "price" in items[3].message


def test_csv_rows_with_missing_or_extra_cells_are_bad_records(columns, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("\ufeffid,image,brand\n1,a.jpg,acme\n2,b.jpg\n3,c.jpg,x,y\n", encoding="utf-8")
    items = list(read_records(check_records_file(path, columns), columns))
    assert items[0].fields == {"brand": "acme"}
    assert isinstance(items[1], ItemProblem) and "fewer cells" in items[1].message
    assert isinstance(items[2], ItemProblem) and "more cells" in items[2].message
    assert {items[1].reason, items[2].reason} == {"bad_record"}


def test_a_user_field_declared_upper_case_is_stored_upper_case(tmp_path):
    schema = tmp_path / "fields.json"
    schema.write_text(json.dumps({"fields": [{"name": "grade", "type": "keyword", "case": "upper"}]}))
    columns = RecordColumns.from_registry(load_registry(schema))
    item = record_from_row({"image": "a.jpg", "grade": " ab "}, 2, columns, tmp_path)
    assert item.fields == {"grade": "AB"}
