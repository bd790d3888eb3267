"""Compound-query benchmark: what parts, the cutoff window and explain cost over a plain vector search.

N clustered random unit vectors (512-d, int8_hnsw as the index makes them) are bulk-loaded into a temporary
index; then, for the same random query vectors, the service runs (sequentially, one client):

- `plain`: one vector part, page 1 of 24 (kNN k = the cutoff window, 50, as every vector search now asks);
- `compound`: the vector plus two `like` parts (stored vectors read in one request) and one `not_vec` part;
- `compound_explain`: the same with explain=true (the page's 24 stored vectors read, cosines in numpy);
- `sorted`: the plain search with sort=date.

Prints median and p90 milliseconds of each and their ratios to `plain`, with the 1-minute load average at
start and end; the last line is one JSON object.

    python bench/compound.py              # 20k vectors, 200 queries each (about two minutes)
    python bench/compound.py -n 5000 -q 50
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from elasticsearch import helpers  # noqa: E402

from es_search.client import build_client  # noqa: E402
from es_search.config import Settings, load_settings  # noqa: E402
from es_search.index import delete_index, ensure_index  # noqa: E402
from es_search.search import SearchService, parse_search_request  # noqa: E402
from es_search.search.request import encode_vector  # noqa: E402

DIMS = 512


def clustered_vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.normal(size=(64, DIMS)) + 3.0 * rng.normal(size=DIMS)
    vectors = centres[rng.integers(0, len(centres), n)] + rng.normal(scale=0.8, size=(n, DIMS))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def timed(service: SearchService, params: dict) -> float:
    request = parse_search_request(params, Settings(default_page_size=24, max_page_size=100))
    started = time.perf_counter()
    service.search(request)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20_000, help="documents (default 20000)")
    parser.add_argument("-q", type=int, default=200, help="queries per kind (default 200)")
    args = parser.parse_args()
    load_at_start = round(os.getloadavg()[0], 2)
    rng = np.random.default_rng(7)
    alias = f"bench-compound-{uuid.uuid4().hex[:8]}"
    settings = load_settings().with_overrides(index_alias=alias)
    es = build_client(settings)
    ensure_index(es, settings, DIMS)
    try:
        vectors = clustered_vectors(args.n, rng)
        ids = [f"{i:064x}" for i in range(args.n)]
        actions = ({"_index": alias, "_id": ids[i], "_source": {
            "sha256": ids[i], "image_embedding": vectors[i].tolist(), "width": int(rng.integers(100, 4000)),
            "height": 600, "taken_at": f"20{10 + i % 15}-01-01T00:00:00Z"}} for i in range(args.n))
        helpers.bulk(es, actions, chunk_size=1000, refresh="wait_for")
        es.indices.forcemerge(index=alias, max_num_segments=1)
        service = SearchService(es, settings)
        queries = clustered_vectors(args.q, rng)
        kinds = {
            "plain": lambda i: {"vec": [encode_vector(queries[i])]},
            "compound": lambda i: {"vec": [encode_vector(queries[i])], "like": [ids[i], ids[i + 1] + "^0.5"],
                                   "not_vec": [encode_vector(queries[(i + 1) % args.q]) + "^0.5"]},
            "compound_explain": lambda i: dict(kinds["compound"](i), explain=["true"]),
            "sorted": lambda i: {"vec": [encode_vector(queries[i])], "sort": ["date"]},
        }
        for kind in kinds.values():  # warm up every path
            for i in range(5):
                timed(service, kind(i))
        figures = {}
        for name, kind in kinds.items():
            times = np.asarray([timed(service, kind(i)) for i in range(args.q)])
            figures[name] = {"median_ms": round(float(np.median(times)), 2),
                             "p90_ms": round(float(np.percentile(times, 90)), 2)}
        plain = figures["plain"]["median_ms"]
        ratios = {name: round(f["median_ms"] / plain, 2) for name, f in figures.items()}
        for name, f in figures.items():
            print(f"{name:>18}: median {f['median_ms']:7.2f} ms  p90 {f['p90_ms']:7.2f} ms  ×{ratios[name]}")
        print(json.dumps({"documents": args.n, "queries": args.q, "figures": figures, "ratios_to_plain": ratios,
                          "load_average_1m": [load_at_start, round(os.getloadavg()[0], 2)]}))
    finally:
        delete_index(es, alias)


if __name__ == "__main__":
    main()
