"""The audit log: one whole JSON line per change, from many threads at once, to a file or an index; never a
secret; and the command line's changes recorded with their outcome."""

from __future__ import annotations

import json
import threading
import uuid

from es_search.apikeys import keys_index
from es_search.audit import MAX_IDS, audit_entry, audit_index, audit_target, read_entries, record
from es_search.cli import main as cli_main


def test_a_line_says_who_what_to_what_and_how_it_ended(base_settings):
    entry = audit_entry(base_settings, "delete_image", actor="shop-writer", ids=["a" * 64], outcome="ok", status=200,
                        request_id="req-1")
    assert entry["actor"] == "shop-writer" and entry["collection"] == base_settings.index_alias
    assert (entry["action"], entry["ids"], entry["id_count"], entry["outcome"]) == ("delete_image", ["a" * 64], 1, "ok")
    assert entry["status"] == 200 and entry["request_id"] == "req-1" and entry["time"].endswith("Z")
    many = audit_entry(base_settings, "bulk", actor="k", ids=[str(n) for n in range(250)])
    assert len(many["ids"]) == MAX_IDS and many["id_count"] == 250
    assert audit_entry(base_settings, "x", actor=None)["actor"].startswith("cli:")


def test_where_lines_go(base_settings, tmp_path):
    assert audit_target(base_settings.with_overrides(data_dir=tmp_path)) == tmp_path / "audit.log"
    assert audit_target(base_settings.with_overrides(audit_log="off")) is None
    assert audit_target(base_settings.with_overrides(audit_log="index")) == "index"
    assert audit_target(base_settings.with_overrides(audit_log=str(tmp_path / "a.jsonl"))) == tmp_path / "a.jsonl"
    assert record(base_settings.with_overrides(audit_log="off"), "x", actor="k") is None


def test_many_threads_write_whole_lines(base_settings, tmp_path):
    settings = base_settings.with_overrides(audit_log=str(tmp_path / "audit.log"))

    def writer(n: int) -> None:
        for i in range(50):
            record(settings, "add_image", actor=f"worker-{n}", ids=[f"{n}-{i}" * 20])

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = (tmp_path / "audit.log").read_text().splitlines()
    assert len(lines) == 400 and all(json.loads(line)["action"] == "add_image" for line in lines)


def test_a_line_that_cannot_be_written_does_not_fail_the_action(base_settings, tmp_path, caplog):
    (tmp_path / "a-folder").mkdir()
    assert record(base_settings.with_overrides(audit_log=str(tmp_path / "a-folder")), "x", actor="k") is None
    assert "audit: could not record x" in caplog.text


def test_the_index_holds_the_lines_where_asked(es, base_settings):
    settings = base_settings.with_overrides(index_alias=f"test-audit-{uuid.uuid4().hex[:8]}", audit_log="index")
    try:
        record(settings, "apikey_revoke", es=es, actor="cli:ops", ids=["old-key"])
        record(settings, "apikey_create", es=es, actor="cli:ops", ids=["new-key"])
        assert [(e["action"], e["ids"]) for e in read_entries(settings, es)] == [
            ("apikey_revoke", ["old-key"]), ("apikey_create", ["new-key"])]
    finally:
        es.indices.delete(index=audit_index(settings), ignore_unavailable=True)


def test_key_changes_on_the_command_line_are_recorded_without_the_key(es, base_settings, tmp_path, monkeypatch,
                                                                      capsys):
    settings = base_settings.with_overrides(index_alias=f"test-audit-{uuid.uuid4().hex[:8]}", data_dir=tmp_path)
    monkeypatch.setenv("IMGSEARCH_INDEX_ALIAS", settings.index_alias)
    monkeypatch.setenv("IMGSEARCH_DATA_DIR", str(tmp_path))
    try:
        assert cli_main(["apikey", "create", "--name", "ops-key", "--scope", "write"]) == 0
        key = capsys.readouterr().out.strip()
        assert cli_main(["apikey", "revoke", "ops-key"]) == 0
        assert cli_main(["apikey", "revoke", "no-such-key"]) != 0
    finally:
        es.indices.delete(index=keys_index(settings), ignore_unavailable=True)
    entries = read_entries(settings)
    assert [(e["action"], e["ids"], e["outcome"]) for e in entries][:2] == [
        ("apikey_create", ["ops-key"], "ok"), ("apikey_revoke", ["ops-key"], "ok")]
    assert entries[2]["action"] == "apikey_revoke" and entries[2]["outcome"] != "ok"
    assert key and key not in (tmp_path / "audit.log").read_text(), "never the key"


def test_off_writes_nothing(base_settings, tmp_path):
    settings = base_settings.with_overrides(data_dir=tmp_path, audit_log="off")
    record(settings, "x", actor="k")
    assert not (tmp_path / "audit.log").exists()
