"""Ingest benchmark: end-to-end images/s (decode, enrich, encode, bulk into the real node) on generated JPEGs.

The model is a full-size, randomly initialised ViT-B/32 CLIP: the same shapes, so the same compute, as the
real `clip-ViT-B-32`, made offline. Measured in one run, on the same files and the same node:
- our pipeline with the torch fp32, ONNX fp32 and ONNX int8 image backends;
- the common tutorial way as the baseline: open each image, encode it alone (torch fp32), append the
  document to a list, one bulk at the end.
Models are loaded and warmed before the clock starts (the ONNX export happens once and is cached).
Resident memory is sampled during each run: `rss_growth_mb` is its growth after the first quarter (warm-up).

    python bench/ingest.py            # 400 images
    python bench/ingest.py --quick    # 48 images, under two minutes once the model files exist

The last line printed is one JSON object with the figures and the ratios.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
# As `imgsearch ingest` does (es_search.cli.passive_openmp_threads), before torch loads; the baseline gets it too.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from es_search.client import build_client, check_cluster  # noqa: E402
from es_search.config import load_settings  # noqa: E402
from es_search.index import delete_index, ensure_index  # noqa: E402

BACKENDS = ("torch", "onnx-fp32", "onnx-int8")
TARGETS = {"torch_images_per_s": 16.0, "onnx_int8_images_per_s": 40.0, "speedup_vs_baseline": 2.0}


def make_jpegs(folder: Path, count: int, size=(640, 480)) -> None:
    """Distinct photo-like 640×480 JPEGs (smooth gradients, shapes and mild noise: ~40–80 KB each)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    for i in range(count):
        base = rng.uniform(0, 255, 3)
        slope = rng.uniform(-0.3, 0.3, (2, 3))
        pixels = base + x[..., None] * slope[0] + y[..., None] * slope[1]
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(40, 200)
        disc = ((x - cx) ** 2 + (y - cy) ** 2) < r * r
        pixels[disc] = rng.uniform(0, 255, 3)
        pixels += rng.normal(0, 4, (height, width, 1))
        buffer = io.BytesIO()
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB").save(buffer, "JPEG", quality=90)
        (folder / f"img-{i:05d}.jpg").write_bytes(buffer.getvalue())


class RssSampler:
    """Resident memory of this process, sampled every 0.2 s while a run lasts."""

    def __init__(self):
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.is_set():
            with open("/proc/self/statm") as fh:
                self.samples.append(int(fh.read().split()[1]) * page / 2**20)
            self._stop.wait(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def growth_mb(self) -> float:
        """RSS at the end minus RSS a quarter of the way in (the first quarter is warm-up: arenas, model buffers)."""
        if len(self.samples) < 8:
            return 0.0
        return round(float(self.samples[-1] - self.samples[len(self.samples) // 4]), 1)

    def peak_mb(self) -> float:
        return round(max(self.samples, default=0.0), 1)


def run_pipeline(settings, es, folder: Path, count: int) -> dict:
    from es_search.encoders import build_image_encoder, build_text_encoder
    from ingest.runner import run_ingest

    image_encoder = build_image_encoder(settings)
    text_encoder = build_text_encoder(settings, es)
    # Warm up outside the clock: model load, ONNX export/session, first-call allocations.
    image_encoder.encode_images([Image.new("RGB", (640, 480), (90, 120, 150))] * 2)
    text_encoder.encode_texts(["a photo"])
    with RssSampler() as rss:
        started, cpu = time.perf_counter(), _cpu_seconds()
        summary = run_ingest(settings, [folder], es=es, image_encoder=image_encoder, text_encoder=text_encoder)
        seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    if summary.indexed != count or summary.failed:
        raise SystemExit(f"{settings.image_backend}: expected {count} indexed, got {summary.to_dict()}")
    return _figures(count, seconds, cpu, rss)


def _cpu_seconds() -> float:
    """CPU time of this process, all threads (Elasticsearch's own work is in its process, not counted)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _figures(count: int, seconds: float, cpu: float, rss: RssSampler) -> dict:
    # cpu_ms_per_image barely moves when other programs share the cores; images_per_s does.
    return {"images_per_s": round(count / seconds, 2), "seconds": round(seconds, 2),
            "cpu_ms_per_image": round(1000 * cpu / count, 1), "rss_peak_mb": rss.peak_mb(),
            "rss_growth_mb": rss.growth_mb()}


def run_baseline(settings, es, folder: Path, count: int) -> dict:
    """The tutorial way: one image at a time through the model, every document kept for one bulk at the end."""
    from elasticsearch import helpers

    from es_search.model_loading import load_sentence_transformer

    model = load_sentence_transformer(settings.image_model, "cpu", "IMGSEARCH_IMAGE_MODEL")
    model.encode([Image.new("RGB", (640, 480))], show_progress_bar=False)  # warm-up, like the pipeline's
    index = ensure_index(es, settings, 512)
    with RssSampler() as rss:
        started, cpu = time.perf_counter(), _cpu_seconds()
        docs = []
        for path in sorted(folder.glob("*.jpg")):
            image = Image.open(path).convert("RGB")
            vector = model.encode(image, show_progress_bar=False, normalize_embeddings=True)
            docs.append({"_index": index, "_id": path.name, "_source": {
                "sha256": path.name, "paths": [str(path)], "file_name": path.name,
                "image_embedding": vector.tolist()}})
        helpers.bulk(es, docs, chunk_size=500)
        seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    return _figures(count, seconds, cpu, rss)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run (48 images) for CI and a first look")
    parser.add_argument("-n", "--images", type=int, help="how many images (default 400, or 48 with --quick)")
    parser.add_argument("--batch-size", type=int, help="images per model call (default: IMGSEARCH_BATCH_SIZE)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated: torch,onnx-fp32,onnx-int8")
    parser.add_argument("--no-baseline", action="store_true", help="skip the one-at-a-time baseline")
    args = parser.parse_args(argv)
    count = args.images or (48 if args.quick else 400)
    load_at_start = round(os.getloadavg()[0], 2)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    from es_search.tiny_model import make_random_clip

    base = load_settings()
    if args.batch_size:
        base = base.with_overrides(batch_size=args.batch_size)
    es = build_client(base)
    check_cluster(es, base)
    model_dir = make_random_clip(base.data_dir / "bench-models" / "random-clip-vit-b-32", full_size=True)
    # Both towers of the random CLIP: the text tower scores the categories, as the real model's would.
    base = base.with_overrides(image_model=str(model_dir), text_model=str(model_dir), text_backend="local")

    work = Path(tempfile.mkdtemp(prefix="imgsearch-bench-"))
    results: dict[str, dict] = {}
    aliases = []
    try:
        folder = work / "images"
        make_jpegs(folder, count)
        print(f"{count} images of 640x480 in {folder}; model: random ViT-B/32 (512-d); "
              f"batch {base.batch_size}, {base.decode_workers} decode workers, bulk {base.bulk_chunk}", flush=True)
        for backend in backends:
            alias = f"bench-ingest-{backend}-{uuid.uuid4().hex[:8]}"
            aliases.append(alias)
            settings = base.with_overrides(image_backend=backend, index_alias=alias, data_dir=work / f"data-{backend}")
            if backend.startswith("onnx"):
                # The export is cached beside the shared data, so it is made once per machine, not per run.
                settings = settings.with_overrides(data_dir=base.data_dir / "bench-data")
                shutil.rmtree(settings.data_dir / "thumbnails", ignore_errors=True)
                (settings.data_dir / "ingest-state.sqlite").unlink(missing_ok=True)
            results[backend] = run_pipeline(settings, es, folder, count)
            print(f"{backend:>10}: {results[backend]}", flush=True)
        if not args.no_baseline:
            alias = f"bench-ingest-baseline-{uuid.uuid4().hex[:8]}"
            aliases.append(alias)
            results["baseline_one_at_a_time"] = run_baseline(base.with_overrides(index_alias=alias), es, folder, count)
            print(f"  baseline: {results['baseline_one_at_a_time']}", flush=True)
    finally:
        for alias in aliases:
            delete_index(es, alias)
        shutil.rmtree(work, ignore_errors=True)

    baseline = results.get("baseline_one_at_a_time", {}).get("images_per_s")
    ratios = {f"{name}_vs_baseline": round(r["images_per_s"] / baseline, 2)
              for name, r in results.items() if baseline and name != "baseline_one_at_a_time"}
    figures = {name: r["images_per_s"] for name, r in results.items()}
    met = {}
    if "torch" in figures:
        met["torch_images_per_s"] = figures["torch"] >= TARGETS["torch_images_per_s"]
    if "onnx-int8" in figures:
        met["onnx_int8_images_per_s"] = figures["onnx-int8"] >= TARGETS["onnx_int8_images_per_s"]
    if "torch_vs_baseline" in ratios:  # like for like: the same model at the same precision, batched and overlapped
        met["speedup_vs_baseline_torch"] = ratios["torch_vs_baseline"] >= TARGETS["speedup_vs_baseline"]
    if ratios:
        met["speedup_vs_baseline_best"] = max(ratios.values()) >= TARGETS["speedup_vs_baseline"]
    print(json.dumps({
        "benchmark": "ingest", "images": count, "quick": args.quick, "cpus": len(os.sched_getaffinity(0)),
        "machine": platform.processor() or platform.machine(), "load_average_1m": [load_at_start, round(os.getloadavg()[0], 2)],
        "batch_size": base.batch_size,
        "decode_workers": base.decode_workers, "images_per_s": figures, "ratios": ratios,
        "details": results, "targets": TARGETS, "targets_met": met,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
