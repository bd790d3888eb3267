"""Backups on the real node: ingest, snapshot, lose everything (the index, the keys, the thumbnails), restore,
and find the same documents, the same search results, the same keys and the thumbnails back."""

from __future__ import annotations

import shutil
import uuid

import pytest

from es_search.apikeys import KeyChecker, create_key, keys_index
from es_search.audit import read_entries
from es_search.cli import main as cli_main
from es_search.errors import ConfigError
from es_search.index import delete_index, indices_behind
from es_search.node import node_layouts
from es_search.search import SearchRequest, SearchService
from es_search.snapshots import SnapshotError, SnapshotNotFound, Snapshots, repository_body
from tests.support.sample_gallery import build_gallery


def test_the_repository_is_s3_a_shared_folder_or_the_local_nodes(base_settings, tmp_path):
    s3 = repository_body(base_settings.with_overrides(snapshot_s3_bucket="backups", index_alias="shop"), None)
    assert s3 == {"type": "s3", "settings": {"bucket": "backups", "base_path": "shop"}}
    shared = repository_body(base_settings.with_overrides(snapshot_location="/mnt/nfs/es"), tmp_path)
    assert shared == {"type": "fs", "settings": {"location": "/mnt/nfs/es"}}
    local = repository_body(base_settings, tmp_path)
    assert local["settings"]["location"] == str(tmp_path / base_settings.snapshot_repository)
    with pytest.raises(ConfigError, match="IMGSEARCH_SNAPSHOT_LOCATION"):
        repository_body(base_settings, None)


@pytest.fixture(scope="module")
def deployment(es, base_settings, tiny_models, tmp_path_factory):
    gallery = build_gallery(es, base_settings, tiny_models, tmp_path_factory.mktemp("backed-up"))
    settings = gallery.settings.with_overrides(snapshot_repository=f"test-{uuid.uuid4().hex[:8]}")
    yield gallery, settings
    delete_index(es, settings.index_alias)
    es.indices.delete(index=keys_index(settings), ignore_unavailable=True)
    es.options(ignore_status=404).snapshot.delete_repository(name=settings.snapshot_repository)


def snapshots_of(es, settings) -> Snapshots:
    # The test node's own folder (the session's DATA_DIR), whatever data folder a test's settings name.
    from es_search.config import load_settings

    return Snapshots(es, settings, local_repo=node_layouts(load_settings())[0].repo_dir)


def ranked(es, settings, image_id: str) -> list[tuple[str, float]]:
    result = SearchService(es, settings).search(SearchRequest(similar_to=image_id, size=8))
    return [(hit.id, round(hit.similarity, 5)) for hit in result.hits]


def test_a_round_trip_brings_back_documents_results_keys_and_thumbnails(es, deployment):
    gallery, settings = deployment
    key = create_key(es, settings, name="backed-up-key", scope="read")
    first = next(iter(gallery.ids.values()))
    before = ranked(es, settings, first)
    documents = {hit["_id"]: hit["_source"] for hit in es.search(index=settings.index_alias, size=100)["hits"]["hits"]}
    thumbnails = sorted(p.relative_to(settings.thumbnails_dir) for p in settings.thumbnails_dir.rglob("*.jpg"))
    assert len(documents) == len(gallery.ids) and len(thumbnails) == len(documents)

    made = snapshots_of(es, settings).create("round-trip-1")
    assert made["state"] == "SUCCESS" and made["documents"] == len(documents)
    assert set(made["indices"]) == {indices_behind(es, settings.index_alias)[0], keys_index(settings)}
    assert made["thumbnails"] == made["thumbnails_copied"] == len(thumbnails) and made["thumbnails_missing"] == 0
    assert [s["snapshot"] for s in snapshots_of(es, settings).list()] == ["round-trip-1"]

    delete_index(es, settings.index_alias)  # everything lost
    es.indices.delete(index=keys_index(settings))
    shutil.rmtree(settings.thumbnails_dir)

    restored = snapshots_of(es, settings).restore("round-trip-1")
    assert restored["documents"] == len(documents) and restored["thumbnails_restored"] == len(thumbnails)
    assert indices_behind(es, settings.index_alias) == [restored["to"]]
    after = {hit["_id"]: hit["_source"] for hit in es.search(index=settings.index_alias, size=100)["hits"]["hits"]}
    assert after == documents, "the same documents, vectors and near-duplicate fields included"
    assert ranked(es, settings, first) == before, "the same search results"
    checked = KeyChecker(es, settings).check(key)
    assert checked is not None and checked.name == "backed-up-key" and checked.active, "the key works again"
    assert sorted(p.relative_to(settings.thumbnails_dir) for p in settings.thumbnails_dir.rglob("*.jpg")) == thumbnails


def test_a_restore_beside_a_live_index_swaps_the_alias_and_keeps_or_deletes_the_old(es, deployment):
    gallery, settings = deployment
    snapshots = snapshots_of(es, settings)
    again = snapshots.create("round-trip-2")
    assert again["thumbnails_copied"] == 0, "a second snapshot copies only thumbnails the store lacks"
    live = indices_behind(es, settings.index_alias)
    es.delete(index=settings.index_alias, id=next(iter(gallery.ids.values())), refresh=True)
    kept = snapshots.restore("round-trip-2")
    assert kept["from"] == live and es.indices.exists(index=live[0]), "the old index stays, out of the alias"
    assert es.count(index=settings.index_alias)["count"] == len(gallery.ids), "the deleted image is back"
    dropped = snapshots.restore("round-trip-2", delete_old=True)
    assert not es.indices.exists(index=kept["to"]) and dropped["deleted"] == [kept["to"]]
    es.indices.delete(index=live[0])


def test_what_cannot_be_done_is_said_plainly(es, deployment, base_settings):
    _, settings = deployment
    with pytest.raises(SnapshotNotFound, match="no snapshot 'never-made'"):
        snapshots_of(es, settings).restore("never-made")
    other = settings.with_overrides(index_alias=f"test-other-{uuid.uuid4().hex[:8]}")
    with pytest.raises(SnapshotNotFound):  # another deployment's snapshot is not restored here
        snapshots_of(es, other).restore("round-trip-1")
    with pytest.raises(SnapshotError, match="nothing to back up"):
        snapshots_of(es, other).create()
    outside = settings.with_overrides(snapshot_location="/not/in/path-repo", snapshot_repository="test-outside")
    with pytest.raises(SnapshotError, match="path.repo"):
        snapshots_of(es, outside).ensure_repository()
    s3 = settings.with_overrides(snapshot_s3_bucket="backups", snapshot_repository="test-s3")
    with pytest.raises(SnapshotError, match="repository-s3 module is missing"):
        snapshots_of(es, s3).ensure_repository()  # the test node has no repository-s3 module
    with pytest.raises(SnapshotError, match="not a snapshot name"):
        snapshots_of(es, settings).create("Upper Case")


def test_the_command_line_asks_before_restoring_and_audits(es, deployment, monkeypatch, capsys):
    _, settings = deployment
    location = snapshots_of(es, settings).ensure_repository()["settings"]["location"]  # the same repository
    for name, value in {"IMGSEARCH_INDEX_ALIAS": settings.index_alias, "IMGSEARCH_DATA_DIR": str(settings.data_dir),
                        "IMGSEARCH_SNAPSHOT_REPOSITORY": settings.snapshot_repository,
                        "IMGSEARCH_SNAPSHOT_LOCATION": location}.items():
        monkeypatch.setenv(name, value)
    assert cli_main(["snapshot", "restore", "round-trip-1"]) == 2 and "--yes" in capsys.readouterr().err
    assert cli_main(["snapshot", "list"]) == 0 and "round-trip-1" in capsys.readouterr().out
    assert cli_main(["snapshot", "restore", "nothing-like-it", "--yes"]) == 1
    lines = [line for line in read_entries(settings) if line["action"].startswith("snapshot_")]
    assert lines[-1]["action"] == "snapshot_restore" and lines[-1]["outcome"] == "snapshot_not_found"
    assert lines[-1]["ids"] == ["nothing-like-it"] and lines[-1]["actor"].startswith("cli:")
