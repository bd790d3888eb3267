"""Near-duplicate groups on images ingested for real with the tiny random model.

The tiny model's vectors carry no meaning: unrelated pictures can reach the default cosine threshold
(0.95) too, so with it the perceptual hash is what keeps unrelated images apart. These tests run at the
default thresholds (IMGSEARCH_DUPLICATE_SIMILARITY 0.95, IMGSEARCH_DUPLICATE_PHASH_DISTANCE 14).
"""

from __future__ import annotations

import hashlib
import json

import pytest

from es_search.cli.root import main
from es_search.duplicates.neighbours import Edge
from es_search.duplicates.service import DuplicateFinder
from es_search.errors import RegroupNeeded
from ingest.near_duplicates import images_to_skip
from ingest.runner import run_ingest
from tests.support.image_families import original, variant, write_families

FAMILIES, UNRELATED = 6, 14


def _id(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _groups(es, alias) -> dict[str, set[str]]:
    es.indices.refresh(index=alias)
    hits = es.search(index=alias, query={"exists": {"field": "duplicate_group"}}, size=1000,
                     source=["duplicate_group"])["hits"]["hits"]
    groups: dict[str, set[str]] = {}
    for hit in hits:
        groups.setdefault(hit["_source"]["duplicate_group"], set()).add(hit["_id"])
    return groups


@pytest.fixture
def families(tmp_path):
    return write_families(tmp_path / "photos", FAMILIES, UNRELATED)


def test_every_family_is_one_group_and_no_unrelated_image_joins_one(tiny_settings, es, families, tmp_path):
    summary = run_ingest(tiny_settings, [tmp_path / "photos"])
    assert summary.indexed == FAMILIES * 6 + UNRELATED
    # The ingest hook grouped them already (the default --on-near-duplicate index).
    expected = {frozenset(_id(p) for p in files) for name, files in families.items() if name != "unrelated"}
    assert {frozenset(g) for g in _groups(es, tiny_settings.index_alias).values()} == expected
    assert summary.near_duplicates == FAMILIES * 6

    # A full pass from scratch finds the same groups.
    finder = DuplicateFinder(es, tiny_settings)
    result = finder.regroup(restart=True)
    assert result.groups == FAMILIES and result.grouped_images == FAMILIES * 6
    assert {frozenset(g) for g in _groups(es, tiny_settings.index_alias).values()} == expected

    # The representative is the largest image: the original (the resized and cropped copies are smaller).
    page = finder.groups(size=50)
    assert page.total == FAMILIES
    originals = {_id(files[0]) for name, files in families.items() if name != "unrelated"}
    assert {group.id for group in page.groups} == originals
    for group in page.groups:
        assert group.members[0].representative and group.members[0].similarity == pytest.approx(1.0, abs=1e-3)
        assert all(member.similarity >= 0.95 for member in group.members)


def test_a_new_copy_joins_its_group_and_a_new_image_starts_none(tiny_settings, es, families, tmp_path):
    run_ingest(tiny_settings, [tmp_path / "photos"])
    DuplicateFinder(es, tiny_settings).regroup()
    later = tmp_path / "later"
    later.mkdir()
    image, options = variant(original(100), "cropped")
    image.rotate(0).save(later / "another-copy.jpg", "JPEG", quality=70)
    original(5000).save(later / "new.jpg", "JPEG", quality=90)
    summary = run_ingest(tiny_settings, [later])
    assert summary.indexed == 2 and summary.near_duplicates == 1
    groups = _groups(es, tiny_settings.index_alias)
    family0 = {_id(p) for p in families["family0"]}
    assert family0 | {_id(later / "another-copy.jpg")} in groups.values()
    assert all(_id(later / "new.jpg") not in members for members in groups.values())


def test_skip_leaves_a_near_duplicate_out_and_report_names_it(tiny_settings, es, families, tmp_path):
    run_ingest(tiny_settings, [tmp_path / "photos" / "family1"], on_near_duplicate="skip")
    es.indices.refresh(index=tiny_settings.index_alias)
    # The six near-copies came in one run: the first is kept, the others left out.
    assert es.count(index=tiny_settings.index_alias)["count"] == 1
    lines = []
    summary = run_ingest(tiny_settings, [tmp_path / "photos" / "family2"], on_near_duplicate="report",
                         log=lines.append)
    assert summary.near_duplicates == 6 and summary.skipped_near_duplicates == 0
    assert sum(line.startswith("near-duplicate: ") for line in lines) == 6


def test_a_changed_threshold_needs_a_regrouping_and_the_command_does_it(tiny_settings, es, families, tmp_path,
                                                                        monkeypatch, capsys):
    run_ingest(tiny_settings, [tmp_path / "photos"])
    DuplicateFinder(es, tiny_settings).regroup()
    stricter = tiny_settings.with_overrides(duplicate_similarity=0.99)
    with pytest.raises(RegroupNeeded):
        DuplicateFinder(es, stricter).find_since("2000-01-01T00:00:00Z")
    for name, value in {"ES_URL": tiny_settings.node_url, "IMGSEARCH_INDEX_ALIAS": tiny_settings.index_alias,
                        "IMGSEARCH_DATA_DIR": str(tiny_settings.data_dir)}.items():
        monkeypatch.setenv(name, value)
    assert main(["duplicates", "--threshold", "0.99", "--json", "--no-progress"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["grouping"]["thresholds"]["similarity"] == 0.99
    assert printed["total"] == len(printed["groups"]) <= FAMILIES
    # Groups join pairs at 0.99 (a member may be further from the representative, through another member);
    # a stricter threshold can only split families, never join images across them.
    family_of = {_id(p): name for name, files in families.items() for p in files}
    for group in printed["groups"]:
        assert len({family_of[member["id"]] for member in group["members"]}) == 1


@pytest.mark.parametrize("value", ["0.2", "1.5", "nan", "abc"])
def test_the_command_refuses_a_threshold_out_of_range(value, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["duplicates", "--threshold", value])
    assert stop.value.code == 2
    assert "threshold" in capsys.readouterr().err or "similarity" in capsys.readouterr().err


def test_skip_keeps_the_first_copy_of_a_run_and_leaves_out_copies_of_older_images():
    edges = [Edge("n1", "n2", 0.99), Edge("n2", "n3", 0.99), Edge("n4", "old", 0.99)]
    assert images_to_skip(["n1", "n2", "n3", "n4", "n5"], edges) == ["n2", "n4"]


def test_an_interrupted_grouping_resumes_where_it_stopped(tiny_settings, es, families, tmp_path):
    settings = tiny_settings.with_overrides(duplicate_batch=5)
    run_ingest(settings, [tmp_path / "photos"])
    expected = {frozenset(g) for g in _groups(es, settings.index_alias).values()}
    seen = []

    def stop_after_two_batches(count: int) -> None:
        seen.append(count)
        if len(seen) == 2:
            raise KeyboardInterrupt

    finder = DuplicateFinder(es, settings)
    with pytest.raises(KeyboardInterrupt):
        finder.regroup(progress=stop_after_two_batches, restart=True)
    resumed = finder.regroup(progress=seen.append)
    assert resumed.resumed_at == 10 and resumed.images == FAMILIES * 6 + UNRELATED
    assert seen[2] == 10  # the progress bar starts at what was already scanned
    assert {frozenset(g) for g in _groups(es, settings.index_alias).values()} == expected
    assert resumed.groups == FAMILIES


def test_the_first_command_after_an_ingest_runs_a_full_pass_then_only_checks_new_images(tiny_settings, es, families,
                                                                                        tmp_path, monkeypatch, capsys):
    run_ingest(tiny_settings, [tmp_path / "photos"])
    for name, value in {"ES_URL": tiny_settings.node_url, "IMGSEARCH_INDEX_ALIAS": tiny_settings.index_alias,
                        "IMGSEARCH_DATA_DIR": str(tiny_settings.data_dir)}.items():
        monkeypatch.setenv(name, value)
    assert main(["duplicates", "--json", "--no-progress"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["grouping"]["images"] == FAMILIES * 6 + UNRELATED and first["total"] == FAMILIES
    assert main(["duplicates", "--json", "--no-progress"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["grouping"] is None and again["total"] == FAMILIES
