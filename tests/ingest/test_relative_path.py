"""The ingest writes `image_id` and `relative_path`, and keeps `relative_path` in step with `paths` on merges."""

from __future__ import annotations

from ingest.runner import run_ingest
from tests.support.ingest_cases import jpeg


def _docs(es, alias) -> dict[str, dict]:
    es.indices.refresh(index=alias)
    return {hit["_id"]: hit["_source"] for hit in es.search(index=alias, size=100)["hits"]["hits"]}


def test_new_documents_carry_their_id_and_paths_relative_to_the_ingested_folder(tiny_settings, es, tmp_path):
    root = tmp_path / "photos"
    (root / "2024" / "trip").mkdir(parents=True)
    (root / "top.jpg").write_bytes(jpeg(1))
    (root / "2024" / "trip" / "deep.jpg").write_bytes(jpeg(2))

    assert run_ingest(tiny_settings, [root]).indexed == 2

    docs = _docs(es, tiny_settings.index_alias)
    assert {doc_id: (doc["image_id"], doc["relative_path"]) for doc_id, doc in docs.items()} == {
        doc_id: (doc_id, ["2024/trip/deep.jpg" if doc["file_name"] == "deep.jpg" else "top.jpg"])
        for doc_id, doc in docs.items()}


def test_merged_paths_get_their_relative_paths_in_the_same_order(tiny_settings, es, tmp_path):
    first, second, loose = tmp_path / "first", tmp_path / "second" / "inner", tmp_path / "loose"
    for folder in (first / "a", second, loose):
        folder.mkdir(parents=True)
    data = jpeg(3)
    (first / "a" / "one.jpg").write_bytes(data)
    (second / "two.jpg").write_bytes(data)
    (second / "three.jpg").write_bytes(data)  # same content twice in one run: one merge carries both
    (loose / "four.jpg").write_bytes(data)

    run_ingest(tiny_settings, [first])
    run_ingest(tiny_settings, [second])
    # A single file given on its own is no root: outside every root, it keeps its full path.
    run_ingest(tiny_settings, [loose / "four.jpg"])

    (doc,) = _docs(es, tiny_settings.index_alias).values()
    assert doc["paths"][0] == str(first / "a" / "one.jpg")
    assert sorted(doc["paths"][1:3]) == [str(second / "three.jpg"), str(second / "two.jpg")]
    assert doc["paths"][3] == str(loose / "four.jpg")
    # Earlier runs' relative paths survive later runs over other folders.
    expected = {str(first / "a" / "one.jpg"): "a/one.jpg", str(second / "two.jpg"): "two.jpg",
                str(second / "three.jpg"): "three.jpg", str(loose / "four.jpg"): str(loose / "four.jpg")}
    assert doc["relative_path"] == [expected[path] for path in doc["paths"]]


def test_configured_image_roots_count_and_the_deepest_root_wins(tiny_settings, es, tmp_path):
    library = tmp_path / "library"
    (library / "2024" / "beach").mkdir(parents=True)
    (library / "2024" / "beach" / "wave.jpg").write_bytes(jpeg(4))
    (library / "cat.jpg").write_bytes(jpeg(5))

    run_ingest(tiny_settings.with_overrides(image_roots=(library,)), [library / "2024", library / "cat.jpg"])

    by_name = {doc["file_name"]: doc["relative_path"] for doc in _docs(es, tiny_settings.index_alias).values()}
    # wave.jpg: under both the configured root and the run's folder, the run's (deeper) folder wins;
    # cat.jpg, given on its own, is relative to the configured root.
    assert by_name == {"wave.jpg": ["beach/wave.jpg"], "cat.jpg": ["cat.jpg"]}
