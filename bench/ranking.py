"""What reading dates and names in a query, and ranking by signals, add to a search.

1. Reading alone (pure): es_search.search.understanding.read_query over the test table's queries (English and
   Chinese, with and without dates), its time per query after a first warm-up read, p50 and p99.
2. On a node: N documents with random unit vectors, a brand each (200 brands), a date, a stock flag and a
   price, searched by text (a fixed vector, so no model time counts) alternately with `literal=true`, with
   the words understood (a brand and a month in each query) and with two ranking signals, R rounds of Q
   queries each; p50 and p99 of the service's own time. The understood search filters, so it does less kNN
   work: its extra requests (the phrase check of the date's neighbours, the field values once a minute)
   are what it adds.

    python bench/ranking.py               # 20,000 documents, 3 rounds of 100 queries
    python bench/ranking.py --quick       # 2,000 documents, 2 rounds of 30

Figures: docs/benchmarks.md, "Dates, names and signals in a query".
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections import defaultdict
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from elasticsearch import helpers  # noqa: E402

from es_search.client import build_client  # noqa: E402
from es_search.config import load_settings  # noqa: E402
from es_search.index import delete_index, ensure_index  # noqa: E402
from es_search.search import SearchService  # noqa: E402
from es_search.search.request import parse_search_request  # noqa: E402
from es_search.search.understanding import read_query  # noqa: E402
from tests.es_search.test_understanding import TABLE, VALUES, held_as_title  # noqa: E402

DIMS = 512


def percentiles(times: list[float]) -> dict:
    ordered = sorted(times)
    return {"p50_ms": round(statistics.median(ordered), 3),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 3)}


def reading_alone() -> dict:
    today = date(2026, 12, 6)
    read_query("warm up 2023", today=today, values=VALUES, is_title=held_as_title)
    times = []
    for _ in range(5):
        for query, _, _ in TABLE:
            started = time.perf_counter()
            read_query(query, today=today, values=VALUES, is_title=held_as_title)
            times.append((time.perf_counter() - started) * 1000)
    return {"queries": len(TABLE) * 5, **percentiles(times)}


class FixedEncoder:
    name, dims = "fixed", DIMS

    def __init__(self):
        vector = np.random.default_rng(1).normal(size=DIMS)
        self.vector = (vector / np.linalg.norm(vector)).astype(np.float32)

    def encode_texts(self, texts):
        return np.stack([self.vector for _ in texts])


def on_a_node(documents: int, rounds: int, queries: int) -> dict:
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-ranking-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    (folder / "schema.json").write_text(json.dumps([
        {"name": "brand", "type": "keyword", "facet": True}, {"name": "in_stock", "type": "boolean"},
        {"name": "price", "type": "float"}]))
    settings = load_settings().with_overrides(index_alias=f"bench-ranking-{uuid.uuid4().hex[:8]}", data_dir=folder,
                                              fields_file=folder / "schema.json")
    es = build_client(settings)
    ensure_index(es, settings, DIMS)
    rng = np.random.default_rng(7)
    try:
        def actions():
            for n in range(documents):
                vector = rng.normal(size=DIMS)
                yield {"_index": settings.index_alias, "_id": f"{n:064x}", "_source": {
                    "sha256": f"{n:064x}", "file_name": f"{n}.jpg", "title": f"product {n}",
                    "brand": f"brand{n % 200}", "in_stock": bool(n % 3), "price": float(n % 97),
                    "taken_at": f"{2018 + n % 7}-{1 + n % 12:02d}-15T10:00:00Z",
                    "image_embedding": (vector / np.linalg.norm(vector)).tolist()}}
        helpers.bulk(es.options(request_timeout=120), actions(), chunk_size=500)
        es.indices.refresh(index=settings.index_alias)
        es.options(request_timeout=600).indices.forcemerge(index=settings.index_alias, max_num_segments=1)
        service = SearchService(es, settings, text_encoder=FixedEncoder())
        texts = [f"red bag brand{n % 200} {['March', 'July', 'October'][n % 3]} {2018 + n % 7}" for n in range(queries)]
        ways = {"literal": {"literal": "true"}, "understood": {},
                "understood + 2 signals": {"boost": ["in_stock:true^1.2", "price:reciprocal^2"]}}
        times: dict[str, list[float]] = defaultdict(list)
        for text in texts[:5]:  # warm up: caches, the field values, the JIT of the node
            for extra in ways.values():
                service.search(parse_search_request({"q": text, **extra}, settings, service.registry))
        for _ in range(rounds):
            for name, extra in ways.items():
                for text in texts:
                    request = parse_search_request({"q": text, **extra}, settings, service.registry)
                    started = time.perf_counter()
                    service.search(request)
                    times[name].append((time.perf_counter() - started) * 1000)
        return {"documents": documents, "rounds": rounds, "queries_per_round": queries,
                **{name: percentiles(values) for name, values in times.items()}}
    finally:
        delete_index(es, settings.index_alias)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.documents, args.rounds, args.queries = 2_000, 2, 30
    load = os.getloadavg()
    result = {"load_before": [round(x, 2) for x in load], "reading": reading_alone(),
              "search": on_a_node(args.documents, args.rounds, args.queries),
              "load_after": [round(x, 2) for x in os.getloadavg()]}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
