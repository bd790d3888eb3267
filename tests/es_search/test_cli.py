"""The `imgsearch` command as a user runs it (`python -m es_search.cli`), against the real node.

Each test has an alias of its own (IMGSEARCH_INDEX_ALIAS=test-<uuid>), deleted afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from es_search.errors import EXIT_CLUSTER, EXIT_CONFIG, EXIT_USAGE
from es_search.index import VECTOR_FIELD, delete_index, indices_behind
from tests.support.cli import imgsearch

DIMS = 8


@pytest.fixture
def alias(es):
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    delete_index(es, name)


def assert_one_error_line(result: subprocess.CompletedProcess, code: int, fragment: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and fragment in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def add_documents(es, alias: str, count: int) -> set[str]:
    ids = {f"{n:064x}" for n in range(1, count + 1)}
    for n, image_id in enumerate(sorted(ids)):
        vector = [0.0] * DIMS
        vector[n % DIMS] = 1.0
        es.index(index=alias, id=image_id, document={"file_name": f"{n}.jpg", VECTOR_FIELD: vector})
    es.indices.refresh(index=alias)
    return ids


def stored_ids(es, alias: str) -> set[str]:
    es.indices.refresh(index=alias)
    return {hit["_id"] for hit in es.search(index=alias, size=100, source=False)["hits"]["hits"]}


def test_index_create_delete_and_reindex(es, alias, tmp_path):
    created = imgsearch("index", "create", "--dims", str(DIMS), alias=alias, data_dir=tmp_path)
    assert created.returncode == 0, created.stderr
    info = json.loads(created.stdout)
    assert info["exists"] is True and info["vector"]["dims"] == DIMS and info["documents"] == 0
    assert es.indices.exists_alias(name=alias)
    ids = add_documents(es, alias, 5)

    again = imgsearch("index", "create", "--dims", str(DIMS), alias=alias, data_dir=tmp_path)
    assert again.returncode == 0 and json.loads(again.stdout)["documents"] == 5  # a no-op when it exists
    other_size = imgsearch("index", "create", "--dims", str(DIMS * 2), alias=alias, data_dir=tmp_path)
    assert_one_error_line(other_size, EXIT_CONFIG, f"{DIMS}-d vectors")

    refused = imgsearch("index", "delete", alias=alias, data_dir=tmp_path)
    assert refused.returncode == EXIT_USAGE and "--yes" in refused.stderr
    assert stored_ids(es, alias) == ids  # nothing was touched

    optimized = imgsearch("index", "optimize", alias=alias, data_dir=tmp_path)
    assert optimized.returncode == 0, optimized.stderr
    assert json.loads(optimized.stdout)["segments_after"] == 1 and "optimize:" in optimized.stderr  # progress
    assert json.loads(imgsearch("index", "info", alias=alias, data_dir=tmp_path).stdout)["segments"] == 1
    zero = imgsearch("index", "optimize", "--max-segments", "0", alias=alias, data_dir=tmp_path)
    assert zero.returncode == EXIT_USAGE and "1 or more" in zero.stderr and "Traceback" not in zero.stderr

    before = indices_behind(es, alias)
    moved = imgsearch("index", "reindex", alias=alias, data_dir=tmp_path)
    assert moved.returncode == 0, moved.stderr
    report = json.loads(moved.stdout)
    assert report["from"] == before[-1] and report["documents"] == 5
    assert list(es.indices.get_alias(name=alias)) == [report["to"]]  # the alias moved, and only it
    assert stored_ids(es, alias) == ids  # every document survived
    assert es.indices.exists(index=before[-1])  # kept without --delete-old

    deleted = imgsearch("index", "delete", "--yes", alias=alias, data_dir=tmp_path)
    assert deleted.returncode == 0 and report["to"] in deleted.stdout
    assert not es.indices.exists_alias(name=alias)
    for name in before:
        es.indices.delete(index=name, ignore_unavailable=True)

    missing = imgsearch("index", "info", alias=alias, data_dir=tmp_path)
    assert missing.returncode == 1 and json.loads(missing.stdout)["exists"] is False
    nothing = imgsearch("index", "reindex", alias=alias, data_dir=tmp_path)
    assert_one_error_line(nothing, EXIT_CLUSTER, "no index behind alias")


def test_known_failures_end_with_their_exit_code_and_one_line(alias, tmp_path):
    unreachable = imgsearch("index", "info", alias=alias, data_dir=tmp_path, ES_URL="http://127.0.0.1:1")
    assert_one_error_line(unreachable, EXIT_CLUSTER, "127.0.0.1:1")
    bad_setting = imgsearch("config", alias=alias, data_dir=tmp_path, IMGSEARCH_SHOW_PATHS="everything")
    assert_one_error_line(bad_setting, EXIT_CONFIG, "invalid configuration")


def test_config_prints_the_effective_settings_with_secrets_hidden(alias, tmp_path):
    result = imgsearch("config", alias=alias, data_dir=tmp_path, ES_API_KEY="very-secret-key",
                       IMGSEARCH_SHOW_PATHS="hidden")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["index_alias"] == alias and shown["show_paths"] == "hidden"
    assert shown["es_api_key"] != "very-secret-key" and "very-secret-key" not in result.stdout


def test_a_reader_closing_the_pipe_early_ends_quietly(alias, tmp_path):
    """`imgsearch config | head -1`: the reader is gone before the output is written."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ES_", "IMGSEARCH_"))}
    env.update({"IMGSEARCH_INDEX_ALIAS": alias, "IMGSEARCH_DATA_DIR": str(tmp_path)})
    read, write = os.pipe()
    os.close(read)  # nobody will ever read what the command prints
    with os.fdopen(write, "wb") as stdout:
        result = subprocess.run([sys.executable, "-m", "es_search.cli", "config"], stdout=stdout,
                                stderr=subprocess.PIPE, text=True, env=env, timeout=120)
    assert result.returncode == 141, result.stderr
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr


def test_the_layers_above_the_core_register_their_commands_through_entry_points():
    """The core's command modules import nothing from ingest, webapp or demo; their commands still appear."""
    probe = ("import importlib, json, sys; from es_search.cli import root; "
             "[importlib.import_module(m) for m in root.CORE_COMMAND_MODULES]; "
             "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('ingest', 'webapp', 'demo')))); "
             "sub = next(a for a in root.build_parser()._actions if a.dest == 'command'); "
             "print(json.dumps(sorted(sub.choices)))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    before, commands = (json.loads(line) for line in result.stdout.splitlines())
    assert before == []
    assert {"ingest", "web", "demo"} <= set(commands), (
        "the imgsearch.commands entry points are missing: reinstall the package (pip install -e .)")
    assert {"node", "index", "search", "model", "config"} <= set(commands)
