"""Disk bytes per image document besides its vector: a real ingest of generated photos, measured field by field.

bench/search.py measures the vector field alone (bytes per vector on disk and in memory). A document also
holds its paths, title, colours, sizes, hashes and dates. This script ingests N generated photos through the
real pipeline and mapping (with the tiny random models, so the vector is 32-d and its own share is left
out), force-merges to one segment and asks Elasticsearch's disk-usage API what each field takes.
docs/capacity.md adds the result to the vector bytes of bench/search.py. The last line printed is JSON.

    .venv/bin/python bench/doc_size.py --images 3000
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from es_search.client import build_client  # noqa: E402
from es_search.config import load_settings  # noqa: E402
from es_search.index import VECTOR_FIELD, delete_index  # noqa: E402


def _make_jpegs():
    spec = importlib.util.spec_from_file_location("bench_ingest", REPO / "bench" / "ingest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_jpegs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=3000)
    args = parser.parse_args(argv)

    from es_search.tiny_model import TINY_MODEL_VERSION, make_tiny_models
    from ingest.runner import run_ingest

    base = load_settings()
    image_model, text_model = make_tiny_models(base.data_dir / "test-models" / f"v{TINY_MODEL_VERSION}", dims=32)
    with tempfile.TemporaryDirectory() as tmp:
        settings = base.with_overrides(index_alias=f"bench-docsize-{uuid.uuid4().hex[:8]}",
                                       data_dir=Path(tmp) / "data", image_model=str(image_model),
                                       text_model=str(text_model))
        es = build_client(settings)
        photos = Path(tmp) / "photos" / "2024" / "holiday"  # paths of a realistic depth
        _make_jpegs()(photos, args.images, size=(320, 240))
        try:
            started = time.perf_counter()
            summary = run_ingest(settings, [Path(tmp) / "photos"], es=es)
            ingest_seconds = time.perf_counter() - started
            name = next(iter(es.indices.get_alias(name=settings.index_alias)))
            es.options(request_timeout=1800).indices.forcemerge(index=name, max_num_segments=1)
            es.indices.refresh(index=name)
            warnings.filterwarnings("ignore", message=".*technical preview.*")
            usage = es.options(request_timeout=1800).indices.disk_usage(index=name, run_expensive_tasks=True)[name]
            store = es.indices.stats(index=name, metric="store")["indices"][name]["primaries"]["store"]
        finally:
            delete_index(es, settings.index_alias)
    n = summary.indexed
    fields = usage["fields"]
    vector = fields.get(VECTOR_FIELD, {}).get("total_in_bytes", 0)
    per_field = {field: round(info["total_in_bytes"] / n, 1) for field, info in
                 sorted(fields.items(), key=lambda item: -item[1]["total_in_bytes"]) if info["total_in_bytes"]}
    result = {
        "documents": n, "ingest_seconds": round(ingest_seconds, 1),
        "store_bytes_per_document": round(store["size_in_bytes"] / n, 1),
        "fields_bytes_per_document": round(usage["store_size_in_bytes"] / n, 1),
        "vector_field_bytes_per_document_32d": round(vector / n, 1),
        "bytes_per_document_besides_the_vector": round((usage["store_size_in_bytes"] - vector) / n, 1),
        "per_field": per_field,
        "load_average": os.getloadavg(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
