"""What a document needs (pure): from the items that make it and what the index holds under its id."""

from __future__ import annotations

from ingest.fingerprint import FileFacts
from ingest.items import Fetched, Item, record_digest
from ingest.plan import Indexed, document_action, document_paths, plan_document, update_action

SHA = "a" * 64


def fetched(location: str | None, sha: str = SHA, **item) -> Fetched:
    return Fetched(Item(location, **item), FileFacts(location or "", 10, 1, sha))


def indexed(paths=(), sha: str = SHA, digest: str | None = None, sources=()) -> Indexed:
    return Indexed(sha256=sha, digest=digest, paths=list(paths), sources=list(sources),
                   relative_paths=[p.rsplit("/", 1)[-1] for p in paths], seq_no=7, primary_term=1)


def record(location: str, record_id: str | None = None, **fields) -> Fetched:
    return fetched(location, record_id=record_id, fields=fields, origin="cat.csv",
                   digest=record_digest(location, fields))


def test_a_new_content_is_encoded_and_its_copies_are_one_document():
    members = [fetched("/p/a.jpg"), fetched("/q/a-copy.jpg")]
    decision = plan_document(members, None, [])
    assert decision.kind == "encode" and decision.paths == ["/p/a.jpg", "/q/a-copy.jpg"]


def test_a_folder_copy_under_a_new_name_only_adds_its_path_on_the_version_read():
    decision = plan_document([fetched("/q/b.jpg")], indexed(["/p/a.jpg"]), ["/p", "/q"])
    assert decision.kind == "add_paths" and decision.guarded
    assert decision.doc == {"paths": ["/p/a.jpg", "/q/b.jpg"], "relative_path": ["a.jpg", "b.jpg"]}
    action = update_action("images", SHA, decision, indexed(["/p/a.jpg"]))
    assert (action["if_seq_no"], action["if_primary_term"]) == (7, 1)
    assert plan_document([fetched("/p/a.jpg")], indexed(["/p/a.jpg"]), []).kind == "present"


def test_a_record_writes_nothing_unchanged_its_fields_when_they_change_and_its_image_when_that_changes():
    row = record("/img/1.jpg", "SKU-1", price=3.0)
    same = indexed(["/img/1.jpg"], digest=row.item.digest, sources=["cat.csv"])
    assert plan_document([row], same, []).kind == "present"
    changed = record("/img/1.jpg", "SKU-1", price=4.0)
    decision = plan_document([changed], same, [])
    assert decision.kind == "update" and not decision.guarded  # a record's document is its own: no version guard
    assert decision.doc["price"] == 4.0 and decision.doc["sources"] == ["cat.csv"] and "indexed_at" not in decision.doc
    new_image = plan_document([record("/img/1.jpg", "SKU-1", price=3.0)], indexed(["/img/1.jpg"], sha="b" * 64), [])
    assert new_image.kind == "encode" and new_image.replace


def test_the_write_apis_create_of_an_existing_id_is_a_conflict_and_its_index_always_writes():
    create = fetched(None, record_id="x", origin="api", create_only=True, always_write=True)
    assert (plan_document([create], indexed(), []).kind, plan_document([create], indexed(), []).status) == \
        ("refuse", 409)
    again = fetched(None, record_id="x", origin="api", always_write=True, digest="d")
    decision = plan_document([again], indexed(["https://a/b.jpg"], digest="d", sources=["api"]), [])
    assert decision.kind == "update" and "paths" not in decision.doc  # bytes without a location keep their paths


def test_a_content_hash_document_is_created_never_overwritten_a_records_document_is_indexed():
    assert document_action("i", SHA, {}, content_id=True, create_only=False)["_op_type"] == "create"
    assert document_action("i", "SKU-1", {}, content_id=False, create_only=False)["_op_type"] == "index"
    assert document_action("i", "SKU-1", {}, content_id=False, create_only=True)["_op_type"] == "create"
    assert document_paths([record("/img/2.jpg", "SKU-2")], indexed(["/img/1.jpg"])) == ["/img/2.jpg"]
