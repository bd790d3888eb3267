"""Filtered kNN: recall@10 and latency when a filter narrows the vectors to 50 %, 10 %, 1 % and 0.1 % of them.

Every vector (bench/search.py's Mixture, shaped like image embeddings) gets a `slice` from 0 to 999, spread
evenly and independently of where the vector lies; a filter `slice < t` keeps t ‰ of them, as a shop's
"brand", a hospital's "department" or a collection would. For each selectivity and query, the truth is the
exact top 10 among the vectors the filter keeps (numpy, float32 cosines). Two queries are measured:
- **service**: what `es_search.search.service` sends for the first page of a filtered search: the filter
  inside the knn section (pre-filtering), k and num_candidates from the service's own page window, cutoff
  depth and settings (k 50, IMGSEARCH_KNN_FILTERED_CANDIDATES 750, rescoring ×4 on int8 by default), its
  best 10 compared;
- **raw**: a hand-written knn with k 10, num_candidates 100 and the same filter;
- with `--policies`, other candidate policies written `k50-nc500-os4` (k, num_candidates, rescoring).
Each is measured under each of `--heuristics`: Elasticsearch's `index.dense_vector.hnsw_filter_heuristic`,
how the graph is walked under a filter: ACORN (the default: past a node the filter rejects, on to its own
neighbours) or FANOUT (the plain walk, visiting more nodes instead).
Each build loads the vectors in an order of its own, refreshing every second as an ingest does, and is
measured as loaded (the merges it set off finished) and force-merged to one segment. Client latency, p50
and p99, on this machine. The last line printed is one JSON object with every figure and the targets.

    python bench/filtered_knn.py --n 100000 --builds 2
    python bench/filtered_knn.py --n 1000000 --builds 2 --heuristics acorn,fanout --policies k50-nc500-os4
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from elasticsearch import Elasticsearch, helpers  # noqa: E402
from search import VECTOR, Mixture, force_merge, log, percentiles, vector_base64  # noqa: E402

from es_search.client import build_client, check_cluster  # noqa: E402
from es_search.config import load_settings  # noqa: E402
from es_search.model_loading import usable_cores  # noqa: E402
from es_search.search.bodies import deepened  # noqa: E402
from es_search.search.ranking import CutoffRule  # noqa: E402
from es_search.search.service import search_window  # noqa: E402

INDEX = "bench-filtered-knn"
SLICES = 1000
# Filters keeping 50 %, 10 %, 1 % and 0.1 % of the vectors: `slice < t`.
THRESHOLDS = (500, 100, 10, 1)
TARGET = {"recall_at_10": 0.95, "p99_ms": 20.0}


def slices(ids: np.ndarray) -> np.ndarray:
    """Each row's slice, 0–999: a multiplicative hash of its id, so every filter keeps an even spread."""
    return ((ids.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(2**32) % np.uint64(SLICES)).astype(np.int64)


def exact_filtered_top(mixture: Mixture, centres, queries: np.ndarray, k: int = 10) -> dict[int, np.ndarray]:
    """For each threshold, the ids of each query's exact k best among the rows with slice < threshold."""
    best = {t: (np.full((len(queries), k), -np.inf, np.float32), np.zeros((len(queries), k), np.int64))
            for t in THRESHOLDS}
    for start, chunk in mixture.chunks(centres):
        ids = np.arange(start, start + chunk.shape[0])
        scores, row_slices = queries @ chunk.T, slices(ids)
        for threshold, (best_scores, best_ids) in best.items():
            keep = row_slices < threshold
            if not keep.any():
                continue
            all_scores = np.concatenate([best_scores, scores[:, keep]], axis=1)
            all_ids = np.concatenate([best_ids, np.broadcast_to(ids[keep], (len(queries), int(keep.sum())))], axis=1)
            top = np.argpartition(-all_scores, k - 1, axis=1)[:, :k]
            best[threshold] = (np.take_along_axis(all_scores, top, axis=1), np.take_along_axis(all_ids, top, axis=1))
    return {t: ids for t, (_, ids) in best.items()}


def create_index(es: Elasticsearch, settings, dims: int, shards: int) -> None:
    es.options(ignore_status=404).indices.delete(index=INDEX)
    options = {"type": settings.vector_index_type, "m": settings.hnsw_m,
               "ef_construction": settings.hnsw_ef_construction}
    es.indices.create(index=INDEX, settings={"index": {"number_of_shards": shards, "number_of_replicas": 0}},
                      mappings={"dynamic": "strict", "properties": {
                          VECTOR: {"type": "dense_vector", "dims": dims, "similarity": "cosine", "index": True,
                                   "index_options": options},
                          "slice": {"type": "integer"}}})


def load(es: Elasticsearch, mixture: Mixture, centres, build: int) -> float:
    """Every vector with its slice, blocks and rows in an order of this build's own; refresh every second."""
    rng = np.random.default_rng([41, build])
    blocks = list(range(0, mixture.n, 5_000))
    started = time.perf_counter()

    def actions():
        for index in rng.permutation(len(blocks)):
            start = blocks[index]
            chunk = mixture.chunk(int(index), min(5_000, mixture.n - start), centres)
            row_slices = slices(np.arange(start, start + chunk.shape[0]))
            for row in rng.permutation(chunk.shape[0]):
                yield {"_index": INDEX, "_id": str(start + int(row)), VECTOR: vector_base64(chunk[row]),
                       "slice": int(row_slices[row])}

    for ok, item in helpers.parallel_bulk(es, actions(), thread_count=2, chunk_size=1000, queue_size=4,
                                          request_timeout=600):
        if not ok:
            raise RuntimeError(f"bulk failed: {item}")
    es.options(request_timeout=600).indices.refresh(index=INDEX)
    while es.indices.stats(index=INDEX, metric="merge")["indices"][INDEX]["primaries"]["merges"]["current"]:
        time.sleep(1)
    es.indices.refresh(index=INDEX)
    return time.perf_counter() - started


def service_knn(settings) -> dict:
    """k, num_candidates and rescoring of the service's first page (size 20) under a filter, as its search
    builds them."""
    window = search_window(settings, 1, 20, narrowed=True)
    deep = deepened(window, CutoffRule().window, settings.knn_candidates_factor)
    knn = {"k": deep.k, "num_candidates": deep.num_candidates}
    if deep.rescore_oversample:
        knn["rescore_vector"] = {"oversample": deep.rescore_oversample}
    return knn


def measure(es: Elasticsearch, queries: np.ndarray, truth: np.ndarray, threshold: int, knn: dict) -> dict:
    latencies, hits = [], 0
    for query, expected in zip(queries, truth, strict=True):
        body = {**knn, "field": VECTOR, "query_vector": query.tolist(), "filter": {"range": {"slice": {"lt": threshold}}}}
        started = time.perf_counter()
        response = es.search(index=INDEX, knn=body, source=False, size=10, filter_path="hits.hits._id")
        latencies.append((time.perf_counter() - started) * 1000)
        found = {int(hit["_id"]) for hit in response.get("hits", {}).get("hits", [])}
        hits += len(found & set(expected.tolist()))
    figures = percentiles(latencies)
    return {"recall_at_10": round(hits / (10 * len(queries)), 4), "p50_ms": figures["p50"], "p99_ms": figures["p99"]}


def measure_state(es, queries, warm, truths: dict, policies: dict, heuristics: list[str]) -> dict:
    """{heuristic: {filter share: {policy: figures}}}."""
    for query in warm:  # page the graph and vectors in, untimed
        es.search(index=INDEX, knn={**policies["service"], "field": VECTOR, "query_vector": query.tolist()},
                  source=False, size=10)
    out: dict = {}
    for heuristic in heuristics:
        es.indices.put_settings(index=INDEX, settings={"index.dense_vector.hnsw_filter_heuristic": heuristic})
        for threshold in THRESHOLDS:
            for name, knn in policies.items():
                out.setdefault(heuristic, {}).setdefault(f"{threshold / SLICES:.1%}", {})[name] = figures = measure(
                    es, queries, truths[threshold], threshold, knn)
                log(f"      {heuristic:6s} filter {threshold / SLICES:>5.1%} {name:16s} recall@10 "
                    f"{figures['recall_at_10']:.4f} p50 {figures['p50_ms']:.1f} p99 {figures['p99_ms']:.1f} ms")
    return out


def parse_policy(text: str) -> dict:
    """'k50-nc500-os4' → {"k": 50, "num_candidates": 500, "rescore_vector": {"oversample": 4.0}}."""
    parts = dict((part[:2] if part[:2] in ("nc", "os") else part[:1], part[2:] if part[:2] in ("nc", "os")
                  else part[1:]) for part in text.split("-"))
    knn = {"k": int(parts["k"]), "num_candidates": int(parts["nc"])}
    if "os" in parts:
        knn["rescore_vector"] = {"oversample": float(parts["os"])}
    return knn


def targets(builds: list[dict]) -> dict:
    """Per heuristic and policy: met when recall@10 ≥ 0.95 at p99 ≤ 20 ms at every selectivity, in every
    state of every build; the misses are listed."""
    out: dict = {}
    for heuristic, by_share in builds[0]["merged"].items():
        for policy in next(iter(by_share.values())):
            misses = [{"build": b["build"], "state": state, "filter": share, **by_policy[policy]}
                      for b in builds for state in ("as_loaded", "merged")
                      for share, by_policy in b[state][heuristic].items()
                      if by_policy[policy]["recall_at_10"] < TARGET["recall_at_10"]
                      or by_policy[policy]["p99_ms"] > TARGET["p99_ms"]]
            out[f"{heuristic}/{policy}"] = {"met": not misses, "misses": misses}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dims", type=int, default=512)
    parser.add_argument("--builds", type=int, default=2)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--policies", default="", help="more candidate policies, e.g. k50-nc500-os4,k50-nc750-os4")
    parser.add_argument("--heuristics", default="acorn", help="filter heuristics to compare: acorn,fanout")
    parser.add_argument("--shards", type=int, default=None,
                        help="primary shards of the index (default: IMGSEARCH_SHARDS, as the service creates it)")
    args = parser.parse_args(argv)
    heuristics = [h.strip().lower() for h in args.heuristics.split(",") if h.strip()]
    settings = load_settings()
    shards = args.shards or settings.shards
    es = build_client(settings.with_overrides(es_request_timeout=600))
    cluster = check_cluster(es, settings)
    mixture = Mixture(dims=args.dims, n=args.n)
    centres = mixture.centres()
    sample = mixture.chunk(0, args.queries + args.warmup, centres, stream=1)
    queries, warm = sample[:args.queries], sample[args.queries:]
    log(f"{args.n} vectors: exact filtered top 10 of {args.queries} queries in numpy")
    truths = exact_filtered_top(mixture, centres, queries)
    policies = {"service": service_knn(settings), "raw": {"k": 10, "num_candidates": 100},
                **{name: parse_policy(name) for name in args.policies.split(",") if name.strip()}}
    result: dict = {"benchmark": "filtered_knn", "vectors": args.n, "dims": args.dims, "queries": args.queries,
                    "index_options": {"type": settings.vector_index_type, "m": settings.hnsw_m,
                                      "ef_construction": settings.hnsw_ef_construction},
                    "shards": shards, "policies": policies, "cpus": usable_cores(), "heap": settings.es_heap,
                    "elasticsearch": cluster.get("versions"),
                    "load_average_start": [round(x, 2) for x in os.getloadavg()], "builds": []}
    try:
        for build in range(1, args.builds + 1):
            log(f"  build {build}: loading")
            create_index(es, settings, args.dims, shards)
            seconds = load(es, mixture, centres, build)
            log(f"    loaded and merges settled in {seconds:.0f} s; as loaded:")
            loaded = measure_state(es, queries, warm, truths, policies, heuristics)
            merge_seconds = force_merge(es, INDEX)
            log(f"    force-merged in {merge_seconds:.0f} s; merged:")
            merged = measure_state(es, queries, warm, truths, policies, heuristics)
            result["builds"].append({"build": build, "load_seconds": round(seconds, 1),
                                     "force_merge_seconds": round(merge_seconds, 1),
                                     "load_average": [round(x, 2) for x in os.getloadavg()],
                                     "as_loaded": loaded, "merged": merged})
    finally:
        es.options(ignore_status=404).indices.delete(index=INDEX)
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["targets"] = targets(result["builds"])
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
