"""The local record of indexed files: what lets a rerun skip unchanged files without reading them."""

from __future__ import annotations

from ingest.fingerprint import FileFacts
from ingest.report import IngestSummary, format_summary
from ingest.state import IndexedFiles


def facts(path: str, size: int = 10, mtime_ns: int = 1, sha: str = "ab") -> FileFacts:
    return FileFacts(path, size, mtime_ns, sha)


def test_a_recorded_file_is_unchanged_until_its_size_or_time_changes(tmp_path):
    state = IndexedFiles(tmp_path / "state.sqlite", "images-1")
    state.record([facts("/p/a.jpg"), facts("/p/b.jpg")])
    assert state.unchanged([facts("/p/a.jpg"), facts("/p/b.jpg")]) == {"/p/a.jpg", "/p/b.jpg"}
    assert state.unchanged([facts("/p/a.jpg", size=11)]) == set()
    assert state.unchanged([facts("/p/a.jpg", mtime_ns=2)]) == set()
    assert state.unchanged([facts("/p/new.jpg")]) == set()
    state.close()


def test_the_record_belongs_to_one_physical_index(tmp_path):
    IndexedFiles(tmp_path / "state.sqlite", "images-1").record([facts("/p/a.jpg")])
    # After a reindex (new physical index behind the alias) nothing is taken for granted.
    assert IndexedFiles(tmp_path / "state.sqlite", "images-2").unchanged([facts("/p/a.jpg")]) == set()
    assert IndexedFiles(tmp_path / "state.sqlite", "images-1").unchanged([facts("/p/a.jpg")]) == {"/p/a.jpg"}


def test_the_summary_reads_like_a_report():
    text = format_summary(IngestSummary(indexed=3, already_present=2, failed=1, failure_reasons={"corrupt": 1},
                                        seconds=2.0, images_per_second=3.0, stopped="cluster", unfinished=4,
                                        error="lost Elasticsearch", report="/r.jsonl"))
    assert "ingest STOPPED: Elasticsearch failed" in text
    assert "indexed (new documents): 3" in text and "failed:                  1 (corrupt 1)" in text
    assert "unfinished:              4" in text and "run the same command again" in text
