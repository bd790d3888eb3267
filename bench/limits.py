"""What the request limits bound: the cost of a compound query's image parts, and of a bulk write's items.

Through the app (Flask's test client, one request at a time), on a small index of random vectors, with the
full-size random CLIP ViT-B/32 on the chosen backend:

1. `POST /api/search` with 1, 4 and 16 uploaded 1024×768 JPEG parts (16: the most a query takes), R times
   each: the median milliseconds of the whole request, and per part.
2. `POST /api/images/_bulk` of B new 640×480 JPEGs (base64): the milliseconds per item, from which the cost
   of the largest bulk the limits allow (IMGSEARCH_WRITE_BULK_MAX_ITEMS, or as many photos as
   IMGSEARCH_WRITE_BULK_MAX_BYTES holds) follows.

    python bench/limits.py                    # onnx-int8, 5 rounds, a bulk of 32
    python bench/limits.py --backend torch

Figures: docs/benchmarks.md, "What the request limits bound".
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from elasticsearch import helpers  # noqa: E402

from es_search.apikeys import create_key, keys_index  # noqa: E402
from es_search.client import build_client  # noqa: E402
from es_search.config import load_settings  # noqa: E402
from es_search.index import delete_index, ensure_index  # noqa: E402
from es_search.search.parts import MAX_PARTS  # noqa: E402
from tests.support.ingest_cases import jpeg  # noqa: E402
from webapp import create_app  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="onnx-int8")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--bulk", type=int, default=32)
    args = parser.parse_args()

    from es_search.tiny_model import make_random_clip

    base = load_settings()
    model = make_random_clip(base.data_dir / "bench-models" / "random-clip-vit-b-32", full_size=True)
    # The search benchmark's full-size random text model (the writes' categories need one of the image's size).
    spec = importlib.util.spec_from_file_location("bench_search", Path(__file__).resolve().parent / "search.py")
    search_bench = sys.modules["bench_search"] = importlib.util.module_from_spec(spec)
    saved_path = list(sys.path)
    spec.loader.exec_module(search_bench)
    sys.path[:] = saved_path  # it puts bench/ first, whose ingest.py would hide the ingest package
    if not hasattr(sys.modules.get("ingest"), "__path__"):
        sys.modules.pop("ingest", None)
    text_model = search_bench.make_full_size_text_model(base.data_dir / "bench-models" / "full-size-multilingual-text")
    settings = base.with_overrides(index_alias=f"bench-limits-{uuid.uuid4().hex[:8]}", image_model=str(model),
                                   text_model=str(text_model), text_backend="local",
                                   image_backend=args.backend, expensive_rate=0, key_expensive_rate=0,
                                   max_upload_bytes=5_000_000, ocr="off")
    es = build_client(settings)
    try:  # from the index's creation on, so that a run stopped half-way leaves nothing behind
        ensure_index(es, settings, 512)
        rng = np.random.default_rng(1)
        helpers.bulk(es, ({"_index": settings.index_alias, "_id": f"doc-{n}", "_source": {
            "file_name": f"{n}.jpg", "image_embedding": rng.normal(size=512).tolist()}} for n in range(2000)),
            refresh="wait_for")
        key = create_key(es, settings, name="bench-limits", scope="write")
        client = create_app(settings).test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"ApiKey {key}"
        load = [round(x, 2) for x in os.getloadavg()]
        photos = [base64.b64encode(jpeg(900 + n, size=(1024, 768))).decode() for n in range(MAX_PARTS)]
        client.post("/api/search", json={"parts": [{"image_base64": photos[0]}]})  # loads the model
        parts: dict[int, dict] = {}
        for count in (1, 4, MAX_PARTS):
            times = []
            for _ in range(args.rounds):
                started = time.perf_counter()
                answer = client.post("/api/search", json={"parts": [{"image_base64": p} for p in photos[:count]]})
                times.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, answer.json
            median = statistics.median(times)
            parts[count] = {"median_ms": round(median, 1), "per_part_ms": round(median / count, 1)}
        items = [base64.b64encode(jpeg(50_000 + n, size=(640, 480))).decode() for n in range(args.bulk)]
        body = "".join(json.dumps(line) + "\n" for n, image in enumerate(items)
                       for line in ({"index": {"_id": f"bulk-{n}"}}, {"image_base64": image}))
        started = time.perf_counter()
        answer = client.post("/api/images/_bulk?refresh=false", data=body, content_type="application/x-ndjson")
        bulk_ms = (time.perf_counter() - started) * 1000
        assert answer.status_code == 200 and not answer.json["errors"], answer.json
        per_item = bulk_ms / args.bulk
        photo_bytes = statistics.mean(len(item) for item in items)
        largest = min(settings.write_bulk_max_items, int(settings.write_bulk_max_bytes // (photo_bytes + 40)))
        print(json.dumps({
            "backend": args.backend, "load_average_before": load, "load_average_after":
                [round(x, 2) for x in os.getloadavg()], "query_image_parts": parts,
            "bulk": {"items": args.bulk, "ms": round(bulk_ms), "per_item_ms": round(per_item, 1),
                     "item_base64_bytes": round(photo_bytes), "largest_allowed_items": largest,
                     "largest_allowed_s": round(largest * per_item / 1000, 1)}}, indent=2))
    finally:
        delete_index(es, settings.index_alias)
        es.indices.delete(index=keys_index(settings), ignore_unavailable=True)


if __name__ == "__main__":
    main()
