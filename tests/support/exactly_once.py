"""Checks that an ingest indexed every file exactly once, shared by the sharded and the multi-node tests."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from es_search.config import Settings
from tests.support.ingest_cases import jpeg


def sha256_of(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make_photos(folder: Path, count: int, first_seed: int = 100) -> set[str]:
    """`count` small, distinct JPEGs under `folder` (in two sub-folders); their absolute paths."""
    paths = set()
    for seed in range(count):
        path = folder / f"part-{seed % 2}" / f"photo-{seed:03d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(jpeg(first_seed + seed, size=(160, 120)))
        paths.add(str(path))
    return paths


def all_docs(es, alias) -> dict[str, dict]:
    es.indices.refresh(index=alias)
    hits = es.search(index=alias, size=1000, query={"match_all": {}})["hits"]["hits"]
    return {hit["_id"]: hit["_source"] for hit in hits}


def assert_each_path_indexed_once(es, alias, expected_paths: set[str]) -> dict[str, dict]:
    """Every path in exactly one document, none twice, each document's id the hash of its files; the documents."""
    docs = all_docs(es, alias)
    listed = [path for doc in docs.values() for path in doc["paths"]]
    assert sorted(listed) == sorted(expected_paths)  # every path present, none twice
    for sha, doc in docs.items():
        assert all(sha256_of(path) == sha for path in doc["paths"])  # the id is the content's hash
    assert es.count(index=alias)["count"] == len(docs)
    return docs


def ingest_command(settings: Settings, args: list[str], es_url: str) -> tuple[list[str], dict]:
    """The `imgsearch ingest` command line and environment for these settings (tiny models, own alias)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMGSEARCH_", "ES_URL"))}
    env.update({
        "ES_URL": es_url,
        "IMGSEARCH_INDEX_ALIAS": settings.index_alias,
        "IMGSEARCH_DATA_DIR": str(settings.data_dir),
        "IMGSEARCH_IMAGE_MODEL": settings.image_model,
        "IMGSEARCH_TEXT_MODEL": settings.text_model,
        "IMGSEARCH_BATCH_SIZE": str(settings.batch_size),
        "IMGSEARCH_BULK_CHUNK": str(settings.bulk_chunk),
        "IMGSEARCH_SHARDS": str(settings.shards),
        "IMGSEARCH_REPLICAS": str(settings.replicas),
    })
    return [sys.executable, "-m", "es_search.cli", "ingest", *args, "--no-progress"], env


def start_ingest(settings: Settings, args: list[str], es_url: str, cwd: Path) -> subprocess.Popen:
    command, env = ingest_command(settings, args, es_url)
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
