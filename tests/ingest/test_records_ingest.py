"""Records ingest end to end, on a real node with the tiny models: business fields searchable and
filterable, bad rows reported and skipped, updates that touch only what changed, prune and its isolation."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from es_search.encoders import build_image_encoder
from ingest.records import RecordsFileError
from ingest.report import read_report
from ingest.runner import plan_prune, run_ingest, run_records_ingest
from ingest.shard import Shard
from tests.support.catalogue import make_images, product_row, write_csv, write_jsonl, write_schema
from tests.support.ingest_cases import jpeg
from webapp import create_app


class CountingEncoder:
    """The real tiny image encoder, counting the images it is asked to encode."""

    def __init__(self, inner):
        self.inner = inner
        self.name, self.dims = inner.name, inner.dims
        self.images = 0

    def encode_images(self, images):
        self.images += len(images)
        return self.inner.encode_images(images)

    def encode_pixels(self, pixels):
        self.images += len(pixels)
        return self.inner.encode_pixels(pixels)

    def __getattr__(self, name):  # preprocess, and anything else the pipeline asks of an encoder
        return getattr(self.inner, name)


@pytest.fixture
def shop(tiny_settings, tmp_path):
    return tiny_settings.with_overrides(fields_file=write_schema(tmp_path), batch_size=4, bulk_chunk=7)


@pytest.fixture
def encoder(shop):
    return CountingEncoder(build_image_encoder(shop))


def docs_by_id(es, alias) -> dict[str, dict]:
    es.indices.refresh(index=alias)
    hits = es.search(index=alias, size=1000, query={"match_all": {}}, seq_no_primary_term=True,
                     source_excludes=["image_embedding"])["hits"]["hits"]
    return {hit["_id"]: {**hit["_source"], "_seq_no": hit["_seq_no"]} for hit in hits}


def api_ids(settings, **params) -> set[str]:
    answer = create_app(settings).test_client().get("/api/search", query_string={"size": 100, **params}).json
    return {hit["id"] for hit in answer["hits"]}


def test_a_csv_catalogue_is_searchable_and_filterable_by_its_fields_and_bad_rows_are_reported(shop, es, encoder,
                                                                                                tmp_path):
    images = make_images(tmp_path / "shop" / "images", range(10))
    rows = [product_row(n, f"images/{images[n].name}") for n in range(10)]
    rows.append({**product_row(10, "images/img-0001.jpg"), "price": "cheap"})  # line 12: bad value
    rows.append(product_row(11, "images/missing.jpg"))  # line 13: no such file
    rows.append(product_row(3, "images/img-0004.jpg"))  # line 14: SKU-0003 again
    rows.append({**product_row(12, "images/img-0002.jpg"), "image": ""})  # line 15: no image
    catalogue = write_csv(tmp_path / "shop" / "catalogue.csv", rows)

    summary = run_records_ingest(shop, catalogue, image_encoder=encoder)

    assert summary.stopped is None
    assert (summary.indexed, summary.failed) == (10, 4)
    failures, _ = read_report(Path(summary.report))
    assert {(f["line"], f["reason"]) for f in failures} == {(12, "bad_record"), (13, "not_found"),
                                                            (14, "duplicate_id"), (15, "bad_record")}
    assert "price" in next(f["message"] for f in failures if f["line"] == 12)
    docs = docs_by_id(es, shop.index_alias)
    assert set(docs) == {f"SKU-{n:04d}" for n in range(10)}
    sku = docs["SKU-0005"]
    assert (sku["brand"], sku["price"], sku["stock"], sku["in_stock"]) == ("globex", 5.5, 5, True)
    assert sku["released"] == "2024-06-15" and sku["paths"] == [str(images[5])]
    assert sku["sources"] == [str(catalogue.resolve())] and sku["image_id"] == "SKU-0005"
    assert sku["width"] == 96 and len(sku["sha256"]) == 64 and sku["title"] == "img 0005"

    assert api_ids(shop, brand="acme") == {"SKU-0000", "SKU-0004", "SKU-0008"}
    assert api_ids(shop, price="..3", in_stock="true") == {"SKU-0001", "SKU-0002"}
    assert "SKU-0007" in api_ids(shop, q="product number 7", mode="hybrid")


def test_jsonl_records_with_lists_and_the_same_image_under_two_ids_encode_it_once(shop, es, encoder, tmp_path):
    images = make_images(tmp_path / "images", range(3))
    rows = [{"id": "a", "image": str(images[0]), "tags": ["red", "sale"], "brand": "acme"},
            {"id": "b", "image": str(images[0]), "brand": "globex"},  # the same image as "a"
            {"id": "c", "image": str(images[1])},
            {"image": str(images[2]), "title": "No id at all"}]
    summary = run_records_ingest(shop, write_jsonl(tmp_path / "rows.jsonl", rows), image_encoder=encoder)

    assert (summary.indexed, summary.failed) == (4, 0)
    assert encoder.images == 3  # three contents; "a" and "b" share one
    docs = docs_by_id(es, shop.index_alias)
    assert docs["a"]["tags"] == ["red", "sale"] and docs["b"]["brand"] == "globex"
    assert docs["a"]["sha256"] == docs["b"]["sha256"] and docs["a"]["phash"] == docs["b"]["phash"]
    content_id = hashlib.sha256(images[2].read_bytes()).hexdigest()  # no id: the content hash is the id
    assert set(docs) == {"a", "b", "c", content_id}
    assert docs[content_id]["title"] == "No id at all" and docs[content_id]["paths"] == [str(images[2])]


def test_an_undeclared_column_stops_the_run_before_anything_is_indexed(shop, es, tmp_path):
    images = make_images(tmp_path / "images", range(2))
    rows = [{**product_row(n, str(images[n])), "warehouse": "north"} for n in range(2)]
    with pytest.raises(RecordsFileError, match="warehouse"):
        run_records_ingest(shop, write_csv(tmp_path / "rows.csv", rows))
    assert not es.indices.exists_alias(name=shop.index_alias) or docs_by_id(es, shop.index_alias) == {}


def test_a_second_run_touches_only_the_changed_removed_and_added_rows(shop, es, encoder, tmp_path):
    images = make_images(tmp_path / "images", range(60))
    rows = [product_row(n, str(images[n])) for n in range(40)]
    catalogue = tmp_path / "catalogue.csv"
    write_csv(catalogue, rows)
    first = run_records_ingest(shop, catalogue, image_encoder=encoder)
    assert (first.indexed, first.failed) == (40, 0)
    before = docs_by_id(es, shop.index_alias)
    encoded_before = encoder.images

    fields_changed = {0: "9.99", 1: "19.99", 2: "29.99", 3: "39.99", 4: "49.99"}
    image_changed = {5: 45, 6: 46, 7: 47, 8: 48}
    for n, price in fields_changed.items():
        rows[n]["price"] = price
    for n, seed in image_changed.items():
        rows[n]["image"] = str(images[seed])
    images[9].write_bytes(jpeg(1009, size=(80, 60)))  # the same path, new bytes
    removed = {f"SKU-{n:04d}" for n in range(35, 40)}
    rows = rows[:35] + [product_row(n, str(images[n])) for n in range(50, 55)]
    write_csv(catalogue, rows)

    second = run_records_ingest(shop, catalogue, image_encoder=encoder, prune=True)

    assert second.stopped is None and second.failed == 0
    assert (second.indexed, second.updated, second.pruned) == (5, 10, 5)
    assert second.already_present == 25
    assert encoder.images - encoded_before == 5 + 4 + 1  # the added rows and the changed images only
    after = docs_by_id(es, shop.index_alias)
    assert not removed & set(after)
    touched = {doc_id for doc_id in after if doc_id not in before or after[doc_id]["_seq_no"] != before[doc_id]["_seq_no"]}
    assert touched == {f"SKU-{n:04d}" for n in [*fields_changed, *image_changed, 9, *range(50, 55)]}
    assert after["SKU-0002"]["price"] == 29.99 and after["SKU-0002"]["sha256"] == before["SKU-0002"]["sha256"]
    assert after["SKU-0006"]["paths"] == [str(images[46])] and after["SKU-0006"]["sha256"] != before["SKU-0006"]["sha256"]

    third = run_records_ingest(shop, catalogue, image_encoder=encoder, prune=True)
    assert (third.indexed, third.updated, third.pruned, third.already_present) == (0, 0, 0, 40)


def test_dry_run_lists_and_prune_never_touches_another_source(shop, es, tmp_path):
    images = make_images(tmp_path / "images", range(8))
    ours = write_csv(tmp_path / "ours.csv", [product_row(n, str(images[n])) for n in range(4)])
    theirs = write_csv(tmp_path / "theirs.csv", [product_row(n, str(images[n])) for n in range(4, 8)])
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "loose.jpg").write_bytes(jpeg(777, size=(64, 48)))
    run_records_ingest(shop, ours)
    run_records_ingest(shop, theirs)
    run_ingest(shop, [folder])
    write_csv(ours, [product_row(n, str(images[n])) for n in range(2)])  # SKU-0002 and SKU-0003 left ours

    changes = plan_prune(shop, records_file=ours)
    assert sorted(c.doc_id for c in changes) == ["SKU-0002", "SKU-0003"] and all(c.delete for c in changes)
    assert len(docs_by_id(es, shop.index_alias)) == 9  # a dry run removes nothing

    summary = run_records_ingest(shop, ours, prune=True)
    assert summary.pruned == 2
    loose = hashlib.sha256((folder / "loose.jpg").read_bytes()).hexdigest()
    assert set(docs_by_id(es, shop.index_alias)) == {"SKU-0000", "SKU-0001", "SKU-0004", "SKU-0005", "SKU-0006",
                                                     "SKU-0007", loose}
    # Pruning the folder after its file went leaves every record of both files alone.
    (folder / "loose.jpg").unlink()
    assert run_ingest(shop, [folder], prune=True).pruned == 1
    assert set(docs_by_id(es, shop.index_alias)) == {"SKU-0000", "SKU-0001", "SKU-0004", "SKU-0005", "SKU-0006",
                                                     "SKU-0007"}


def test_in_folder_mode_a_changed_file_leaves_its_old_document(shop, es, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(jpeg(1))
    (photos / "b.jpg").write_bytes(jpeg(2))
    (photos / "copy-of-b.jpg").write_bytes(jpeg(2))
    run_ingest(shop, [photos])
    (photos / "a.jpg").write_bytes(jpeg(3))
    (photos / "b.jpg").write_bytes(jpeg(4))

    run_ingest(shop, [photos])

    docs = docs_by_id(es, shop.index_alias)
    by_paths = {tuple(doc["paths"]): doc for doc in docs.values()}
    assert set(by_paths) == {(str(photos / "a.jpg"),), (str(photos / "b.jpg"),), (str(photos / "copy-of-b.jpg"),)}
    assert len(docs) == 3  # a's old content had no other path: its document is gone; b's keeps its copy


def test_the_command_line_takes_records_and_a_dry_run(shop, es, tmp_path):
    from tests.ingest.test_pipeline import run_cli

    images = make_images(tmp_path / "images", range(3))
    catalogue = write_csv(tmp_path / "rows.csv", [product_row(n, str(images[n])) for n in range(3)])
    env = {"IMGSEARCH_FIELDS": str(shop.fields_file)}
    result = run_cli(shop, tmp_path, ["ingest", "--records", str(catalogue), "--no-progress"], extra_env=env)
    assert result.returncode == 0, result.stderr
    assert "indexed (new documents): 3" in result.stdout
    write_csv(catalogue, [product_row(0, str(images[0]))])
    dry = run_cli(shop, tmp_path, ["ingest", "--records", str(catalogue), "--prune", "--dry-run"], extra_env=env)
    assert dry.returncode == 0, dry.stderr
    assert "delete SKU-0001" in dry.stdout and "delete SKU-0002" in dry.stdout and "nothing was removed" in dry.stdout
    assert len(docs_by_id(es, shop.index_alias)) == 3
    alone = run_cli(shop, tmp_path, ["ingest", "--dry-run", str(tmp_path)], extra_env=env)
    assert alone.returncode == 2 and "--dry-run goes with --prune" in alone.stderr


def test_an_empty_cell_clears_a_field_and_a_missing_column_leaves_it(shop, es, tmp_path):
    images = make_images(tmp_path / "images", range(2))
    catalogue = tmp_path / "rows.csv"
    write_csv(catalogue, [product_row(n, str(images[n])) for n in range(2)])
    run_records_ingest(shop, catalogue)

    write_csv(catalogue, [{"id": "SKU-0000", "image": str(images[0]), "price": "", "brand": "acme"},
                          {"id": "SKU-0001", "image": str(images[1]), "price": "", "brand": "acme"}],
              columns=["id", "image", "price", "brand"])
    summary = run_records_ingest(shop, catalogue)

    assert summary.updated == 2
    docs = docs_by_id(es, shop.index_alias)
    assert docs["SKU-0000"].get("price") is None and docs["SKU-0000"]["brand"] == "acme"
    assert docs["SKU-0001"]["description"] == "product number 1"  # no column: left as it was


def test_an_image_indexed_in_an_earlier_run_under_another_id_is_not_encoded_again(shop, es, encoder, tmp_path):
    images = make_images(tmp_path / "images", range(2))
    catalogue = tmp_path / "rows.jsonl"
    write_jsonl(catalogue, [{"id": "a", "image": str(images[0])}, {"id": "b", "image": str(images[1])}])
    run_records_ingest(shop, catalogue, image_encoder=encoder)
    assert encoder.images == 2

    write_jsonl(catalogue, [{"id": "a", "image": str(images[0])}, {"id": "b", "image": str(images[1])},
                            {"id": "a-again", "image": str(images[0]), "brand": "acme"}])
    summary = run_records_ingest(shop, catalogue, image_encoder=encoder)

    assert (summary.indexed, summary.already_present) == (1, 2)
    assert encoder.images == 2  # its vector and colours come from document "a"
    docs = docs_by_id(es, shop.index_alias)
    vectors = {hit["_id"]: hit["_source"]["image_embedding"] for hit in es.search(
        index=shop.index_alias, query={"terms": {"_id": ["a", "a-again"]}}, source_exclude_vectors=False,
        source_includes=["image_embedding"])["hits"]["hits"]}
    assert vectors["a"] == vectors["a-again"]
    assert docs["a-again"]["phash"] == docs["a"]["phash"] and docs["a-again"]["brand"] == "acme"


def test_a_folder_prune_takes_vanished_paths_off_documents_and_deletes_those_left_without(shop, es, tmp_path):
    from tests.ingest.test_pipeline import run_cli

    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    (photos / "a.jpg").write_bytes(jpeg(1))
    (photos / "sub" / "a-copy.jpg").write_bytes(jpeg(1))
    (photos / "b.jpg").write_bytes(jpeg(2))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "b-copy.jpg").write_bytes(jpeg(2))
    run_ingest(shop, [photos])
    run_ingest(shop, [elsewhere])
    (photos / "sub" / "a-copy.jpg").unlink()
    (photos / "b.jpg").unlink()

    dry = run_cli(shop, tmp_path, ["ingest", str(photos), "--prune", "--dry-run"])
    assert dry.returncode == 0, dry.stderr
    a_id = hashlib.sha256(jpeg(1)).hexdigest()
    b_id = hashlib.sha256(jpeg(2)).hexdigest()
    assert f"take off {a_id}: {photos / 'sub' / 'a-copy.jpg'}" in dry.stdout
    assert f"take off {b_id}: {photos / 'b.jpg'}" in dry.stdout  # its copy in another folder keeps it
    summary = run_ingest(shop, [photos], prune=True)

    assert (summary.pruned, summary.pruned_paths) == (0, 2)
    docs = docs_by_id(es, shop.index_alias)
    assert docs[a_id]["paths"] == [str(photos / "a.jpg")]
    assert docs[b_id]["paths"] == [str(elsewhere / "b-copy.jpg")]
    (photos / "a.jpg").unlink()
    assert run_ingest(shop, [photos], prune=True).pruned == 1
    assert set(docs_by_id(es, shop.index_alias)) == {b_id}


def test_three_shards_of_a_catalogue_index_each_row_once_and_report_each_problem_once(shop, es, encoder, tmp_path):
    images = make_images(tmp_path / "shop" / "images", range(12))
    rows = [product_row(n, f"images/{images[n].name}") for n in range(12)]
    rows.append({**product_row(20, "images/img-0001.jpg"), "price": "cheap"})  # a bad value
    rows.append(product_row(3, "images/img-0004.jpg"))  # SKU-0003 again: its shard sees both rows
    rows.append({"id": "", "image": "images/img-0011.jpg"})  # no id: keyed by its image, content-hash id
    catalogue = write_csv(tmp_path / "shop" / "catalogue.csv", rows)

    summaries = [run_records_ingest(shop, catalogue, image_encoder=encoder, shard=Shard(i, 3),
                                    recheck=True) for i in range(3)]

    assert all(summary.stopped is None for summary in summaries)
    assert all(summary.indexed < 13 for summary in summaries)  # each shard took a part, not the whole
    assert sum(summary.indexed for summary in summaries) == 13
    problems = [(f["line"], f["reason"]) for summary in summaries for f in read_report(Path(summary.report))[0]]
    assert sorted(problems) == [(14, "bad_record"), (15, "duplicate_id")]
    docs = docs_by_id(es, shop.index_alias)
    assert {doc_id for doc_id in docs if doc_id.startswith("SKU-")} == {f"SKU-{n:04d}" for n in range(12)}
    assert len(docs) == 13 and all(doc["_seq_no"] is not None for doc in docs.values())


def test_a_field_declared_upper_case_is_stored_as_its_filter_reads_it(tiny_settings, es, tmp_path):
    schema = tmp_path / "grades.yaml"
    schema.write_text("fields:\n  - {name: grade, type: keyword, facet: true, case: upper}\n", encoding="utf-8")
    settings = tiny_settings.with_overrides(fields_file=schema)
    images = make_images(tmp_path / "img", range(3))
    rows = [{"id": f"q-{n}", "image": str(images[n]), "grade": grade} for n, grade in enumerate(["ab", " Ab", "c"])]
    summary = run_records_ingest(settings, write_csv(tmp_path / "rows.csv", rows))
    assert summary.indexed == 3
    assert {doc["grade"] for doc in docs_by_id(es, settings.index_alias).values()} == {"AB", "C"}
    assert api_ids(settings, grade="ab") == api_ids(settings, grade="AB") == {"q-0", "q-1"}
    facets = create_app(settings).test_client().get("/api/facets").json["facets"]["grade"]
    assert {entry["value"]: entry["count"] for entry in facets} == {"AB": 2, "C": 1}
