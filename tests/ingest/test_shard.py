"""`imgsearch ingest --shard I/N`: N runs at once, no coordinator, every image indexed exactly once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.shard import WHOLE, Shard, in_shard, parse_shard, select, shard_of
from tests.support.exactly_once import assert_each_path_indexed_once, make_photos, start_ingest

REPO = Path(__file__).resolve().parents[2]


def test_shards_are_parsed_from_i_over_n_counting_from_zero():
    assert parse_shard("0/3") == Shard(0, 3) and parse_shard(" 2/3 ") == Shard(2, 3)
    assert str(parse_shard("1/8")) == "1/8"
    for bad in ("3/3", "1", "-1/3", "a/3", "1/0", "1/3/4", ""):
        with pytest.raises(ValueError, match="I/N|0 <= I < N"):
            parse_shard(bad)


def test_every_key_belongs_to_exactly_one_shard_and_the_shards_are_even():
    keys = [f"part-{i % 7}/photo-{i:05d}.jpg" for i in range(3000)]
    owners = [[s for s in range(3) if in_shard(key, Shard(s, 3))] for key in keys]
    assert all(len(owner) == 1 for owner in owners)
    sizes = [sum(1 for owner in owners if owner == [s]) for s in range(3)]
    assert all(900 <= size <= 1100 for size in sizes), sizes  # a fair hash: about a third each


def test_the_shard_of_a_key_is_the_same_everywhere():
    # Pinned: N machines must agree, whatever their Python, its hash seed or their locale.
    assert shard_of("a.jpg", 1000) == 449
    assert shard_of("照片/海.jpg", 1000) == 144
    code = "from ingest.shard import shard_of; print(shard_of('照片/海.jpg', 1000))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "12345", "LC_ALL": "C"}, cwd=REPO)
    assert other.stdout.strip() == "144"


def test_select_keeps_order_and_the_whole_input_is_one_shard():
    items = [f"{i}.jpg" for i in range(50)]
    parts = [list(select(items, Shard(s, 4), key=str)) for s in range(4)]
    assert sorted(sum(parts, [])) == sorted(items)
    assert all(part == [item for item in items if item in part] for part in parts)  # order kept
    assert list(select(items, WHOLE, key=str)) == items


def test_three_shards_at_once_index_one_collection_exactly_once(tiny_settings, es, tmp_path):
    settings = tiny_settings.with_overrides(batch_size=4, bulk_chunk=5)
    photos = tmp_path / "photos"
    paths = make_photos(photos, 30)
    # Copies of one file under other names: whichever shard gets each, they end in one document.
    for copy in ("copy-a.jpg", "part-1/copy-b.jpg", "part-0/copy-c.jpg"):
        shutil.copyfile(photos / "part-0" / "photo-000.jpg", photos / copy)
        paths.add(str(photos / copy))

    # All three start before the index exists: the ones that lose the race to create it use the winner's.
    runs = [start_ingest(settings, [str(photos), "--shard", f"{s}/3"], settings.node_url, tmp_path) for s in range(3)]
    outputs = [run.communicate(timeout=300) for run in runs]
    for run, (_stdout, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, stderr
        assert "Traceback" not in stderr

    docs = assert_each_path_indexed_once(es, settings.index_alias, paths)
    assert len(docs) == 30
    assert len(es.indices.get_alias(name=settings.index_alias)) == 1  # one index behind the alias
    seen = [_summary_count(stdout, "indexed (new documents)") + _summary_count(stdout, "already present")
            for stdout, _ in outputs]
    assert sum(seen) == len(paths)  # each file was taken by exactly one shard
    assert all(count > 0 for count in seen)


def _summary_count(stdout: str, label: str) -> int:
    line = next(line for line in stdout.splitlines() if line.strip().startswith(label))
    return int(line.split(":")[1].split()[0])
