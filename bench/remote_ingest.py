"""Remote ingest benchmark: images/s from an HTTP server answering each image after 50 ms, against the same
images ingested from a local folder, in one run, into the same node, with the same model.

The HTTP side is a records file of URLs served by the tests' scripted server on loopback (latency per
request, keep-alive, threads), so what is measured is the records pipeline's fetch stage: downloads run
`IMGSEARCH_FETCH_CONCURRENCY` at a time, a bounded window ahead of the decoders. Target (issue 9): the
ratio remote / local at least 0.9. The model is the full-size random ViT-B/32 CLIP of bench/ingest.py
(the real one's compute) unless `--tiny` asks for the tiny one. Models are loaded before the clock starts.

    python bench/remote_ingest.py            # 200 images
    python bench/remote_ingest.py --quick    # 48 images

The last line printed is one JSON object with the figures and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from bench.ingest import make_jpegs  # noqa: E402
from es_search.client import build_client, check_cluster  # noqa: E402
from es_search.config import load_settings  # noqa: E402
from es_search.index import delete_index  # noqa: E402

LATENCY_S = 0.05
TARGET_RATIO = 0.9


def timed(run) -> tuple[float, object]:
    started = time.perf_counter()
    summary = run()
    return time.perf_counter() - started, summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="48 images")
    parser.add_argument("-n", "--images", type=int, help="how many images (default 200, or 48 with --quick)")
    parser.add_argument("--tiny", action="store_true", help="the tiny random model instead of the full-size one")
    parser.add_argument("--rounds", type=int, default=2,
                        help="runs of each kind, alternating local and remote; the best of each counts (default 2)")
    args = parser.parse_args(argv)
    count = args.images or (48 if args.quick else 200)
    load_at_start = round(os.getloadavg()[0], 2)

    from es_search.encoders import build_image_encoder, build_text_encoder
    from es_search.tiny_model import make_random_clip, make_tiny_models
    from ingest.runner import run_ingest, run_records_ingest
    from tests.support.http_server import Route, ScriptedHTTPServer

    base = load_settings()
    es = build_client(base)
    check_cluster(es, base)
    if args.tiny:
        image_dir, text_dir = make_tiny_models(base.data_dir / "bench-models" / "tiny")
    else:
        image_dir = text_dir = make_random_clip(base.data_dir / "bench-models" / "random-clip-vit-b-32",
                                                full_size=True)
    base = base.with_overrides(image_model=str(image_dir), text_model=str(text_dir), text_backend="local",
                               allow_private_addresses=True)  # the server is on loopback
    image_encoder, text_encoder = build_image_encoder(base), build_text_encoder(base, es)
    from PIL import Image

    image_encoder.encode_images([Image.new("RGB", (224, 224))] * base.batch_size)  # warm: first calls are slow

    work = Path(tempfile.mkdtemp(prefix="imgsearch-bench-remote-"))
    folder = work / "images"
    make_jpegs(folder, count)
    files = sorted(folder.iterdir())
    aliases = []
    results = {}
    try:
        with ScriptedHTTPServer() as server:
            urls = [server.add(f"/img/{path.name}", Route(body=path.read_bytes(), content_type="image/jpeg",
                                                          latency=LATENCY_S)) for path in files]
            records = work / "remote.jsonl"
            records.write_text("".join(json.dumps({"id": f"r{i}", "image": url}) + "\n" for i, url in enumerate(urls)))
            print(f"{count} images of 640x480; model {image_encoder.name} ({image_encoder.dims}-d); batch "
                  f"{base.batch_size}, {base.decode_workers} decode workers, {base.fetch_concurrency} fetches at "
                  f"once; {LATENCY_S * 1000:.0f} ms latency per URL", flush=True)
            for round_no, name in ((r, n) for r in range(args.rounds) for n in ("local", "remote")):
                alias = f"bench-remote-{name}-{uuid.uuid4().hex[:8]}"
                aliases.append(alias)
                settings = base.with_overrides(index_alias=alias, data_dir=work / f"data-{name}-{round_no}")
                if name == "local":
                    seconds, summary = timed(lambda s=settings: run_ingest(
                        s, [folder], es=es, image_encoder=image_encoder, text_encoder=text_encoder))
                else:
                    seconds, summary = timed(lambda s=settings: run_records_ingest(
                        s, records, es=es, image_encoder=image_encoder, text_encoder=text_encoder))
                assert summary.indexed == count and summary.failed == 0, summary
                figures = {"seconds": round(seconds, 2), "images_per_s": round(count / seconds, 2)}
                print(f"{name:>7} (round {round_no + 1}): {figures}", flush=True)
                if name not in results or figures["images_per_s"] > results[name]["images_per_s"]:
                    results[name] = figures
    finally:
        for alias in aliases:
            delete_index(es, alias)
    ratio = results["remote"]["images_per_s"] / results["local"]["images_per_s"]
    figures = {"images": count, "latency_ms": LATENCY_S * 1000, **{f"{k}_images_per_s": v["images_per_s"]
                                                                   for k, v in results.items()},
               "remote_over_local": round(ratio, 3), "target": TARGET_RATIO,
               "load_average_start": load_at_start, "load_average_end": round(os.getloadavg()[0], 2)}
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
