"""Near-duplicate grouping at scale, vectors only: seconds to group n vectors, and precision and recall
of planted near-duplicate pairs.

The vectors are the search benchmark's clustered mixture (bench/search.py's `Mixture`: a nearest
neighbour at cosine ≈ 0.87, so no natural pair reaches the 0.95 threshold), plus planted families: an
original and 1–3 copies at cosine ≈ 0.97–0.995, with perceptual hashes a few bits from the original's
(every other image gets a random hash). Documents go into an index of the real mapping under an alias of
our own (deleted afterwards), force-merged to one segment unless --no-force-merge (the merge is timed
apart); the grouping is the product's `DuplicateFinder.regroup`, timed alone.

    python bench/duplicates.py --n 100000      # prints one JSON line

Figures: docs/benchmarks.md, "Near-duplicates".
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from elasticsearch import helpers  # noqa: E402
from search import BLOCK, Mixture, vector_base64  # noqa: E402

from es_search.client import build_client, check_cluster  # noqa: E402
from es_search.config import load_settings  # noqa: E402
from es_search.duplicates.service import DuplicateFinder  # noqa: E402
from es_search.fields import VECTOR_FIELD  # noqa: E402
from es_search.index import delete_index, ensure_index  # noqa: E402

DIMS = 512
PLANTED_SHARE = 0.02  # of all vectors, copies planted next to an original


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def plant(n: int, seed: int = 11) -> dict[int, int]:
    """{copy row: original row}: the last rows are copies of earlier ones, 1–3 copies per original."""
    rng = np.random.default_rng(seed)
    copies = int(n * PLANTED_SHARE)
    first_copy = n - copies
    originals = rng.choice(first_copy, size=copies, replace=False)
    planted: dict[int, int] = {}
    row = first_copy
    for original in originals:
        for _ in range(int(rng.integers(1, 4))):
            if row >= n:
                return planted
            planted[row] = int(original)
            row += 1
    return planted


def documents(alias: str, n: int, planted: dict[int, int], seed: int = 7):
    mixture = Mixture(dims=DIMS, n=n, seed=seed)
    centres = mixture.centres()
    rng = np.random.default_rng(seed + 1)
    hashes = rng.integers(0, 2**63, size=n, dtype=np.int64)
    kept: dict[int, np.ndarray] = {}
    needed = set(planted.values())
    for start, chunk in mixture.chunks(centres):
        for offset, vector in enumerate(chunk):
            row = start + offset
            phash = int(hashes[row])
            if row in planted:  # a near-copy: the original's vector nudged, its hash with a few bits flipped
                source = kept[planted[row]]
                noise = rng.standard_normal(DIMS).astype(np.float32)
                noise /= np.linalg.norm(noise)
                vector = source + float(rng.uniform(0.1, 0.25)) * noise
                vector /= np.linalg.norm(vector)
                phash = int(hashes[planted[row]])
                for bit in rng.choice(63, size=int(rng.integers(0, 7)), replace=False):
                    phash ^= 1 << int(bit)
            elif row in needed:
                kept[row] = vector
            doc_id = f"{row:064d}"
            yield {"_index": alias, "_id": doc_id, "_source": {
                "sha256": doc_id, "image_id": doc_id, "phash": f"{phash:016x}", VECTOR_FIELD: vector_base64(vector),
                "width": 640, "height": 480, "byte_size": 100_000 + row % 1000,
                "indexed_at": "2026-01-01T00:00:00+00:00"}}
    assert BLOCK > 0


def score(groups: dict[str, set[str]], planted: dict[int, int]) -> tuple[float, float, int, int]:
    """Precision and recall over pairs: a pair is predicted when both are in one group, true when both are
    in one planted family."""
    family = {}
    for copy, original in planted.items():
        family[f"{copy:064d}"] = original
        family[f"{original:064d}"] = original
    predicted = {tuple(sorted(p)) for members in groups.values() for p in itertools.combinations(members, 2)}
    by_family: dict[int, list[str]] = {}
    for doc_id, original in family.items():
        by_family.setdefault(original, []).append(doc_id)
    truth = {tuple(sorted(p)) for members in by_family.values() for p in itertools.combinations(members, 2)}
    hit = len(predicted & truth)
    return (hit / len(predicted) if predicted else 1.0), (hit / len(truth) if truth else 1.0), len(predicted), len(truth)


def read_groups(es, alias: str) -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {}
    query = {"query": {"exists": {"field": "duplicate_group"}}, "_source": ["duplicate_group"]}
    for hit in helpers.scan(es, index=alias, query=query, size=1000):
        groups.setdefault(hit["_source"]["duplicate_group"], set()).add(hit["_id"])
    return groups


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="vectors in all (default 100000)")
    parser.add_argument("--keep", action="store_true", help="keep the index afterwards")
    parser.add_argument("--no-force-merge", dest="force_merge", action="store_false",
                        help="group the index as loaded (many segments) instead of merged to one segment")
    args = parser.parse_args(argv)
    base = load_settings()
    alias = f"bench-dups-{args.n}"
    with tempfile.TemporaryDirectory() as data_dir:
        settings = base.with_overrides(index_alias=alias, data_dir=Path(data_dir))
        es = build_client(settings).options(request_timeout=600)
        check_cluster(es, settings)
        delete_index(es, alias)
        try:
            index = ensure_index(es, settings, DIMS)
            planted = plant(args.n)
            started = time.perf_counter()
            for ok, item in helpers.parallel_bulk(es, documents(index, args.n, planted), thread_count=2,
                                                  chunk_size=1000, queue_size=4):
                if not ok:
                    raise RuntimeError(f"bulk failed: {item}")
            es.indices.refresh(index=index)
            load_seconds = time.perf_counter() - started
            merge_seconds = None
            if args.force_merge:  # as bench/search.py does: every kNN query then searches one HNSW graph
                log(f"loaded {args.n} vectors in {load_seconds:.0f} s; force merge")
                started = time.perf_counter()
                es.options(request_timeout=7200).indices.forcemerge(index=index, max_num_segments=1)
                es.indices.refresh(index=index)
                merge_seconds = round(time.perf_counter() - started, 1)
            log(f"grouping {args.n} vectors")
            summary = DuplicateFinder(es, settings).regroup()
            precision, recall, predicted, truth = score(read_groups(es, alias), planted)
            print(json.dumps({"n": args.n, "group_seconds": summary.seconds, "load_seconds": round(load_seconds, 1),
                              "merge_seconds": merge_seconds,
                              "precision": round(precision, 4), "recall": round(recall, 4),
                              "predicted_pairs": predicted, "planted_pairs": truth, "groups": summary.groups,
                              "thresholds": summary.thresholds, "neighbours": settings.duplicate_neighbours,
                              "batch": settings.duplicate_batch, "load_average": os.getloadavg()}))
        finally:
            if not args.keep:
                delete_index(es, alias)
    return 0


if __name__ == "__main__":
    sys.exit(main())
