"""HNSW sweep: index-time settings (m, ef_construction) × independent builds × query-time policies.

Each build loads the same vectors (bench/search.py's Mixture) in its own shuffled order, as an ingest would:
refresh every second and the merge policy left alone. The query policies are measured on the segments the
load leaves ("as loaded"), then again after a force-merge to one segment ("merged"). A build records its
load and force-merge times, segment counts, bytes per vector in memory (the graph and the int8 vectors) and,
for each policy, recall@k against the exact top k and client latency p50/p99. The last line printed is one
JSON object with every figure and the builds' recall spread per setting and policy.

    python bench/hnsw_sweep.py --n 100000 --m 16,24,32 --ef 100,200 --builds 2
    python bench/hnsw_sweep.py --n 1000000 --m 16 --ef 100 --builds 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from elasticsearch import Elasticsearch, helpers  # noqa: E402
from search import (  # noqa: E402
    HOT_FILES,
    VECTOR,
    Mixture,
    exact_top_k,
    force_merge,
    log,
    percentiles,
    shard_files,
    vector_base64,
)

from es_search.client import build_client, check_cluster  # noqa: E402
from es_search.config import load_settings  # noqa: E402

INDEX = "bench-hnsw-sweep"


@dataclass(frozen=True)
class Policy:
    """One query-time setting: results wanted, candidates per segment, rescoring of k × oversample."""

    k: int
    num_candidates: int
    oversample: float | None = None

    @property
    def name(self) -> str:
        return f"k{self.k}-nc{self.num_candidates}" + (f"-os{self.oversample:g}" if self.oversample else "")


def policies(candidates: list[int], oversamples: list[float], depths: list[int]) -> list[Policy]:
    """First page (k 10) over candidates × rescoring; deeper pages (k = depth) at candidates max(4 k, 1000)
    and max(10 k, 1500), with the largest rescoring."""
    first = [Policy(10, nc, os or None) for nc in candidates for os in [0.0, *oversamples]]
    deep = [Policy(k, max(factor * k, floor), max(oversamples, default=0.0) or None)
            for k in depths for factor, floor in ((4, 1000), (10, 1500))]
    return first + deep


def create_index(es: Elasticsearch, dims: int, m: int, ef: int) -> None:
    es.options(ignore_status=404).indices.delete(index=INDEX)
    es.indices.create(index=INDEX, settings={"index": {
        "number_of_shards": 1, "number_of_replicas": 0, "compound_format": False}},  # files measured one by one
        mappings={"dynamic": "strict", "properties": {VECTOR: {
            "type": "dense_vector", "dims": dims, "similarity": "cosine", "index": True,
            "index_options": {"type": "int8_hnsw", "m": m, "ef_construction": ef}}}})


def load_shuffled(es: Elasticsearch, mixture: Mixture, centres, build: int) -> float:
    """Bulk-load every vector (ids are row numbers) in an order of this build's own: blocks shuffled and rows
    shuffled inside each block. Refresh stays at the default second, as during a real ingest."""
    rng = np.random.default_rng([99, build])
    blocks = list(range(0, mixture.n, 5_000))
    order = rng.permutation(len(blocks))
    started = time.perf_counter()

    def actions():
        for index in order:
            start = blocks[index]
            chunk = mixture.chunk(int(index), min(5_000, mixture.n - start), centres)
            for row in rng.permutation(chunk.shape[0]):
                yield {"_index": INDEX, "_id": str(start + int(row)), VECTOR: vector_base64(chunk[row])}

    for ok, item in helpers.parallel_bulk(es, actions(), thread_count=2, chunk_size=1000, queue_size=4,
                                          request_timeout=600):
        if not ok:
            raise RuntimeError(f"bulk failed: {item}")
    es.options(request_timeout=600).indices.refresh(index=INDEX)
    return time.perf_counter() - started


def wait_for_merges(es: Elasticsearch) -> float:
    """Seconds until the merges the load set off have finished: the state an ingest leaves behind."""
    started = time.perf_counter()
    while es.indices.stats(index=INDEX, metric="merge")["indices"][INDEX]["primaries"]["merges"]["current"]:
        time.sleep(1)
    es.indices.refresh(index=INDEX)
    return time.perf_counter() - started


def measure(es: Elasticsearch, queries: np.ndarray, truth: np.ndarray, policy: Policy) -> dict:
    latencies, hits = [], 0
    for i, query in enumerate(queries):
        knn = {"field": VECTOR, "query_vector": query.tolist(), "k": policy.k,
               "num_candidates": policy.num_candidates}
        if policy.oversample:
            knn["rescore_vector"] = {"oversample": policy.oversample}
        started = time.perf_counter()
        response = es.search(index=INDEX, knn=knn, source=False, size=policy.k, filter_path="hits.hits._id")
        latencies.append((time.perf_counter() - started) * 1000)
        found = {int(hit["_id"]) for hit in response.get("hits", {}).get("hits", [])}
        hits += len(found & set(truth[i, :policy.k].tolist()))
    return {"policy": policy.name, "k": policy.k, "num_candidates": policy.num_candidates,
            "rescore_oversample": policy.oversample, "recall": round(hits / (policy.k * len(queries)), 4),
            **{key: value for key, value in percentiles(latencies).items() if key in ("p50", "p99")}}


def state(es: Elasticsearch, settings, n: int, queries, warm, truth, plan: list[Policy]) -> dict:
    segments = es.indices.segments(index=INDEX)["indices"][INDEX]["shards"]["0"][0]["num_search_segments"]
    files = shard_files(es, INDEX, settings) or {}
    if "cfs" in files:  # freshly flushed segments are compound files: their parts cannot be told apart
        files = {}
    memory = sum(files.get(ext, 0) for ext in HOT_FILES["int8_hnsw"])
    for query in warm:  # page the graph and vectors in, untimed
        es.search(index=INDEX, knn={"field": VECTOR, "query_vector": query.tolist(), "k": 10,
                                    "num_candidates": max(p.num_candidates for p in plan)}, source=False, size=10)
    results = []
    for policy in plan:
        results.append(measure(es, queries, truth, policy))
        log(f"      {policy.name:22s} recall {results[-1]['recall']:.4f} "
            f"p50 {results[-1]['p50']:.1f} p99 {results[-1]['p99']:.1f} ms")
    return {"segments": segments, "memory_bytes_per_vector": round(memory / n, 1) if files else None,
            "graph_bytes_per_vector": round(files.get("vex", 0) / n, 1) if files else None, "policies": results}


def spread(builds: list[dict]) -> dict:
    """Per state and policy: the recall of each build and max − min."""
    out: dict = {}
    for state_name in ("as_loaded", "merged"):
        for i, entry in enumerate(builds[0][state_name]["policies"]):
            recalls = [b[state_name]["policies"][i]["recall"] for b in builds]
            p99s = [b[state_name]["policies"][i]["p99"] for b in builds]
            out.setdefault(state_name, {})[entry["policy"]] = {
                "recalls": recalls, "spread": round(max(recalls) - min(recalls), 4),
                "min_recall": min(recalls), "max_p99": max(p99s)}
    return out


def targets(result: dict) -> dict:
    """The issue's target, judged on what was measured: recall@10 ≥ 0.96 at p99 ≤ 15 ms on every build of a
    setting, at 1M vectors ("met": None below 1M). Lists each (setting, state, policy) that passes."""
    passing = [{"m": entry["m"], "ef_construction": entry["ef_construction"], "state": state_name, "policy": name,
                "min_recall": figures["min_recall"], "max_p99": figures["max_p99"]}
               for entry in result["settings"] for state_name, by_policy in entry["spread"].items()
               for name, figures in by_policy.items()
               if name.startswith("k10-") and figures["min_recall"] >= 0.96 and figures["max_p99"] <= 15]
    return {"recall_0.96_p99_15ms_every_build": {
        "met": bool(passing) if result["vectors"] >= 1_000_000 else None, "passing": passing}}


def markdown(result: dict, columns: list[str]) -> str:
    """docs/benchmarks.md's tables from a result: builds (times, segments, bytes), then recall per state."""
    lines = ["| m | ef_construction | build | load s | merges settled s | force-merge s | segments as loaded "
             "| memory B/vector | graph B/vector | load average |", "|" + "---|" * 10]
    for entry in result["settings"]:
        for b in entry["builds"]:
            lines.append(f"| {entry['m']} | {entry['ef_construction']} | {b['build']} | {b['load_seconds']:.0f} "
                         f"| {b['merges_settled_seconds']:.0f} | {b['force_merge_seconds']:.0f} "
                         f"| {b['as_loaded']['segments']} | {b['merged']['memory_bytes_per_vector']} "
                         f"| {b['merged']['graph_bytes_per_vector']} | {b['load_average'][0]} |")
    for state_name in ("merged", "as_loaded"):
        lines += ["", f"{state_name.replace('_', ' ')}: recall of build 1 / build 2 · worst p99 ms", "",
                  "| m | ef_construction | " + " | ".join(columns) + " |", "|" + "---|" * (len(columns) + 2)]
        for entry in result["settings"]:
            cells = []
            for name in columns:
                f = entry["spread"][state_name].get(name)
                cells.append("" if f is None else " / ".join(f"{r:.3f}" for r in f["recalls"])
                             + f" · {f['max_p99']:.1f}")
            lines.append(f"| {entry['m']} | {entry['ef_construction']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dims", type=int, default=512)
    parser.add_argument("--m", default="16,24,32")
    parser.add_argument("--ef", default="100,200", help="ef_construction values")
    parser.add_argument("--builds", type=int, default=2, help="independent builds per setting")
    parser.add_argument("--candidates", default="500,1000,1500,2000")
    parser.add_argument("--oversample", default="2,4", help="rescore oversampling values besides none")
    parser.add_argument("--depths", default="50,100", help="deeper pages: k values")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--table", type=Path, help="print the markdown tables of a saved result and stop")
    parser.add_argument("--columns", default="k10-nc100,k10-nc200-os4,k10-nc500-os4,k10-nc1000,k10-nc1000-os4,"
                        "k50-nc1000-os4", help="policies shown by --table")
    args = parser.parse_args(argv)
    if args.table:
        print(markdown(json.loads(args.table.read_text().strip().splitlines()[-1]), args.columns.split(",")))
        return 0
    settings = load_settings()
    es = build_client(settings.with_overrides(es_request_timeout=600))
    cluster = check_cluster(es, settings)
    plan = policies(ints(args.candidates), [float(x) for x in args.oversample.split(",") if x.strip()],
                    ints(args.depths))
    mixture = Mixture(dims=args.dims, n=args.n)
    centres = mixture.centres()
    sample = mixture.chunk(0, args.queries + args.warmup, centres, stream=1)
    queries, warm = sample[:args.queries], sample[args.queries:]
    log(f"{args.n} vectors: exact top-{max(p.k for p in plan)} of {args.queries} queries in numpy")
    truth, _ = exact_top_k(mixture, centres, queries, k=max(p.k for p in plan))
    result: dict = {"benchmark": "hnsw_sweep", "vectors": args.n, "dims": args.dims, "queries": args.queries,
                    "index_type": "int8_hnsw", "cpus": len(os.sched_getaffinity(0)),
                    "heap": settings.es_heap, "elasticsearch": cluster.get("versions"),
                    "load_average_start": [round(x, 2) for x in os.getloadavg()], "settings": []}
    for m in ints(args.m):
        for ef in ints(args.ef):
            builds = []
            for build in range(1, args.builds + 1):
                log(f"  m {m} ef_construction {ef} build {build}: loading")
                create_index(es, args.dims, m, ef)
                load_seconds = load_shuffled(es, mixture, centres, build)
                settle_seconds = wait_for_merges(es)
                log(f"    loaded in {load_seconds:.0f} s, merges done {settle_seconds:.0f} s later; as loaded:")
                loaded = state(es, settings, args.n, queries, warm, truth, plan)
                merge_seconds = force_merge(es, INDEX)
                log(f"    merged in {merge_seconds:.0f} s; merged:")
                merged = state(es, settings, args.n, queries, warm, truth, plan)
                builds.append({"build": build, "load_seconds": round(load_seconds, 1),
                               "merges_settled_seconds": round(settle_seconds, 1),
                               "force_merge_seconds": round(merge_seconds, 1),
                               "load_average": [round(x, 2) for x in os.getloadavg()],
                               "as_loaded": loaded, "merged": merged})
                es.indices.delete(index=INDEX)
            result["settings"].append({"m": m, "ef_construction": ef, "builds": builds, "spread": spread(builds)})
            print(json.dumps(result["settings"][-1]), file=sys.stderr, flush=True)  # partial results, in case
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["targets"] = targets(result)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
