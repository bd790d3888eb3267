"""`imgsearch watchlist` as a user runs it: create, add a folder, list, scan, release, remove, delete; and the
answers to what it cannot do."""

from __future__ import annotations

import json

import pytest

from es_search.watchlists.store import watchlists_index
from ingest.runner import run_ingest
from tests.support.cli import imgsearch
from tests.support.watchlist_families import write_watchlist_families


@pytest.fixture
def cli(tiny_settings, es):
    def run(*args: str):
        return imgsearch("watchlist", *args, alias=tiny_settings.index_alias, data_dir=tiny_settings.data_dir,
                         IMGSEARCH_IMAGE_MODEL=tiny_settings.image_model, IMGSEARCH_TEXT_MODEL=tiny_settings.text_model,
                         IMGSEARCH_OCR="off")

    yield run
    es.indices.delete(index=watchlists_index(tiny_settings.index_alias), ignore_unavailable=True)


def test_a_watchlist_from_the_command_line(cli, tiny_settings, es, tmp_path):
    families = write_watchlist_families(tmp_path / "images", references=2, unrelated=4)
    run_ingest(tiny_settings, [tmp_path / "images" / "copies", tmp_path / "images" / "unrelated"])

    made = cli("create", "known", "--policy", "hold", "--prompt", "a weapon=0.5", "--description", "from the CLI")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["prompts"] == [{"text": "a weapon", "threshold": 0.5}]
    assert cli("create", "known").returncode != 0, "a second list of the same name is refused"
    added = cli("add", "known", str(tmp_path / "images" / "references"), "--no-progress")
    assert added.returncode == 0, added.stderr
    assert "2 reference images added to known, 0 failed" in added.stdout
    listed = json.loads(cli("list", "--json").stdout)
    assert [(w["name"], w["policy"], w["references"]) for w in listed] == [("known", "hold", 2)]

    scanned = cli("scan", "known", "--no-progress")
    assert scanned.returncode == 0, scanned.stderr
    assert "20 images checked against known: 16 match" in scanned.stdout
    es.indices.refresh(index=tiny_settings.index_alias)
    held = [h["_id"] for h in es.search(index=tiny_settings.index_alias, query={"term": {"watchlist_status": "held"}},
                                        size=50)["hits"]["hits"]]
    assert len(held) == 16 == sum(len(copies) for copies in families["copies"].values())
    released = cli("release", held[0])
    assert released.returncode == 0 and f"{held[0]}: released" in released.stdout

    assert cli("delete", "known").returncode == 2, "deleting needs --yes"
    assert cli("add", "nowhere", str(tmp_path)).returncode != 0
    bad = cli("create", "Not A Name")
    assert bad.returncode == 2 and "watchlist name" in bad.stderr
    reference = json.loads(cli("add", "known", str(families["references"][0]), "--json", "--no-progress").stdout)
    removed = cli("remove", "known", reference["references"][0])
    assert "1 reference images taken off known" in removed.stdout
    deleted = cli("delete", "known", "--yes")
    assert deleted.returncode == 0 and "with 1 reference images" in deleted.stdout
    assert json.loads(cli("list", "--json").stdout) == []
