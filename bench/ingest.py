"""Ingest benchmark: end-to-end images/s (decode, enrich, encode, bulk into the real node) on generated pictures.

The model is a full-size, randomly initialised ViT-B/32 CLIP: the same shapes, so the same compute, as the
real `clip-ViT-B-32`, made offline. `--photos` picks the pictures (bench/photos.py): 640×480 JPEGs, 12- and
24-megapixel phone and camera JPEGs, PNG screenshots, progressive JPEGs, or a mix. Measured in one run, on the
same files and the same node:
- our pipeline with the torch fp32, ONNX fp32 and ONNX int8 image backends;
- the common tutorial way as the baseline: open each image, encode it alone (torch fp32), append the
  document to a list, one bulk at the end;
- for each backend, the encoder alone: the same encoder object, the same batch size, the same images with
  their pixels already prepared, in this process, just before and just after the pipeline (the mean of
  the two is the figure), so `pipeline / encoder alone` says how much of the model's speed the pipeline keeps;
- our own CPU per image in each non-model stage (hash, read, decode, colours, phash, thumbnail, preprocessing,
  document and JSON), measured one image at a time on this thread;
- the **ceiling**: cores ÷ (the model's CPU per image + our CPU per image), the most any scheduling of this
  work could reach on these cores, and `pipeline / ceiling`, how much of it the pipeline reaches: the stream
  of images from the first to the last acknowledgement (`pipeline_images_per_s`). `images_per_s` is the
  whole run, with its fixed costs: the checks before, and the near-duplicate check of the new images after
  (`run / ceiling`); Elasticsearch's own CPU per image (`elasticsearch_cpu_ms_per_image`) shares these cores
  when the node is local, and `pipeline / ceiling with elasticsearch` counts it in;
- `cores_busy` over the run (this process and the node), and the model's CPU per image in the pipeline
  beside its CPU alone: what is lost to cores waiting and what to work costing more when it shares them.
Models are loaded and warmed before the clock starts (the ONNX export happens once and is cached).
Resident memory is sampled during each run: `rss_growth_mb` is its growth after the first quarter (warm-up).

    python bench/ingest.py            # 400 images of 640×480
    python bench/ingest.py --quick    # 48 images, under two minutes once the model files exist
    python bench/ingest.py -n 96 --photos 12mp --backends torch,onnx-int8 --no-baseline

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

from bench.photos import CHOICES, image_files, make_photos  # noqa: E402
from es_search.client import build_client, check_cluster  # noqa: E402
from es_search.config import load_settings  # noqa: E402
from es_search.index import delete_index, ensure_index  # noqa: E402
from es_search.model_loading import usable_cores  # noqa: E402

BACKENDS = ("torch", "onnx-fp32", "onnx-int8")
# The images/s targets are for 640×480 (they were set on it); at 12 MP int8's is 35 (issue 26).
TARGETS = {"torch_images_per_s": 16.0, "onnx_int8_images_per_s": 40.0, "onnx_int8_images_per_s_12mp": 35.0,
           "speedup_vs_baseline": 2.0, "pipeline_vs_encoder_alone": 0.9, "pipeline_vs_ceiling": 0.9}


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


class BackgroundSampler:
    """A thread that runs `_run` from entering the `with` block until leaving it (`_stop` tells it to end)."""

    def __init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        raise NotImplementedError

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class RssSampler(BackgroundSampler):
    """Resident memory of this process, sampled every 0.2 s while a run lasts."""

    def __init__(self):
        super().__init__()
        self.samples: list[float] = []

    def _run(self):
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.is_set():
            with open("/proc/self/statm") as fh:
                self.samples.append(int(fh.read().split()[1]) * page / 2**20)
            self._stop.wait(0.2)

    def growth_mb(self) -> float:
        """RSS at the end minus RSS a quarter of the way in (the first quarter is warm-up: arenas, model buffers)."""
        if len(self.samples) < 8:
            return 0.0
        return round(float(self.samples[-1] - self.samples[len(self.samples) // 4]), 1)

    def peak_mb(self) -> float:
        return round(max(self.samples, default=0.0), 1)


class ThreadCpuSampler(BackgroundSampler):
    """CPU time of every thread of this process, read from /proc every 0.1 s while a run lasts, summed by role.

    Pool threads are gone when a run ends, so their last sample stands for them (at most 0.1 s short).
    Threads Python does not know (torch's and ONNX Runtime's workers) count with the model.
    """

    ROLES = (("imgsearch-decode", "decode_pool"), ("imgsearch-fetch", "fetch_pool"), ("imgsearch-enrich", "enrich_pool"),
             ("imgsearch-feeder", "feeder"), ("imgsearch-bulk", "bulk"), ("MainThread", "main_encode_loop"))

    def __init__(self):
        super().__init__()
        self._cpu: dict[int, float] = {}
        self._names: dict[int, str] = {}
        self._tick = os.sysconf("SC_CLK_TCK")

    def _sample(self):
        for thread in threading.enumerate():
            if thread.native_id is not None:
                self._names[thread.native_id] = thread.name
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # the thread ended between listing and reading
            self._cpu[int(tid)] = (int(fields[11]) + int(fields[12])) / self._tick

    def _run(self):
        self._sample()
        self._start = dict(self._cpu)
        while not self._stop.wait(0.1):
            self._sample()
        self._sample()

    def by_role(self, count: int) -> dict[str, float]:
        """CPU ms per image of each role over the run (`model_native_threads`: threads Python did not start)."""
        own = self._thread.native_id
        totals: dict[str, float] = {}
        for tid, cpu in self._cpu.items():
            if tid == own:
                continue
            name = self._names.get(tid)
            role = "model_native_threads" if name is None else next(
                (label for prefix, label in self.ROLES if name.startswith(prefix)), "other_python")
            totals[role] = totals.get(role, 0.0) + cpu - self._start.get(tid, 0.0)
        return {role: round(1000 * total / count, 1) for role, total in sorted(totals.items())}


def run_pipeline(settings, es, folder: Path, count: int, own_cpu_ms: float | None) -> dict:
    """The pipeline's figures, with the encoder alone timed just before and just after it."""
    from es_search.encoders import build_image_encoder, build_text_encoder
    from ingest.runner import run_ingest

    image_encoder = build_image_encoder(settings)
    text_encoder = build_text_encoder(settings, es)
    # Warm up outside the clock: model load, ONNX export/session, first-call allocations.
    image_encoder.encode_images([Image.new("RGB", (640, 480), (90, 120, 150))] * 2)
    text_encoder.encode_texts(["a photo"])
    pixels = ready_pixels(settings, image_encoder, folder)
    before = encoder_alone(image_encoder, pixels, settings.batch_size)
    with RssSampler() as rss, ThreadCpuSampler() as threads, PipelineClock() as clock:
        started, cpu, es_cpu = time.perf_counter(), _cpu_seconds(), elasticsearch_cpu_ms(es)
        summary = run_ingest(settings, [folder], es=es, image_encoder=image_encoder, text_encoder=text_encoder)
        seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
        es_cpu = elasticsearch_cpu_ms(es) - es_cpu
    if summary.indexed != count or summary.failed:
        raise SystemExit(f"{settings.image_backend}: expected {count} indexed, got {summary.to_dict()}")
    after = encoder_alone(image_encoder, pixels, settings.batch_size)
    figures = _figures(count, seconds, cpu, rss)
    # The stream of images alone, first item to last acknowledgement: what the ceiling is about.
    figures["pipeline_images_per_s"] = round(count / clock.seconds, 2)
    figures["outside_pipeline_seconds"] = round(seconds - clock.seconds, 2)
    figures["thread_cpu_ms_per_image"] = by_role = threads.by_role(count)
    # The model's CPU per image inside the pipeline (the encoding thread and the runtime's own threads), beside
    # its CPU alone: work that costs more when it shares the cores, which no scheduling can win back.
    figures["model_cpu_ms_per_image_in_pipeline"] = round(
        by_role.get("main_encode_loop", 0.0) + by_role.get("model_native_threads", 0.0), 1)
    # How busy the cores were over the run, this process and the node together: near 1, time is lost to work
    # costing more, not to cores waiting.
    figures["cores_busy"] = round((cpu + es_cpu / 1000) / (usable_cores() * seconds), 3)
    alone = round((before["images_per_s"] + after["images_per_s"]) / 2, 2)
    figures["encoder_alone"] = {"images_per_s": alone, "before": before, "after": after}
    figures["pipeline_vs_encoder_alone"] = round(figures["images_per_s"] / alone, 3)
    # What that ratio would be if both kept the cores equally busy: the model's CPU over the pipeline's.
    # Far steadier than wall-clock figures when other programs share the machine.
    model_cpu = (before["cpu_ms_per_image"] + after["cpu_ms_per_image"]) / 2
    figures["encoder_cpu_share"] = round(model_cpu / figures["cpu_ms_per_image"], 3)
    # The node indexes (HNSW), refreshes and answers the near-duplicate pass on the same cores, when local.
    figures["elasticsearch_cpu_ms_per_image"] = round(es_cpu / count, 1)
    if own_cpu_ms is not None:
        figures["ceiling"] = ceiling(model_cpu, own_cpu_ms)
        figures["pipeline_vs_ceiling"] = round(figures["pipeline_images_per_s"] / figures["ceiling"]["images_per_s"], 3)
        figures["run_vs_ceiling"] = round(figures["images_per_s"] / figures["ceiling"]["images_per_s"], 3)
        shared = ceiling(model_cpu, own_cpu_ms + es_cpu / count)
        figures["ceiling_with_elasticsearch"] = shared["images_per_s"]
        figures["pipeline_vs_ceiling_with_elasticsearch"] = round(
            figures["pipeline_images_per_s"] / shared["images_per_s"], 3)
    return figures


class PipelineClock:
    """Times `Pipeline.run` inside a run: from the first item to the last acknowledgement. Left out are the
    run's fixed costs: the index and cluster checks before, and after it the near-duplicate check of the new
    images (a kNN query each) and the report."""

    seconds = 0.0

    def __enter__(self):
        from ingest import pipeline

        self._module, self._run = pipeline, pipeline.Pipeline.run
        clock, original = self, self._run

        def timed(this, items):
            started = time.perf_counter()
            try:
                return original(this, items)
            finally:
                clock.seconds = time.perf_counter() - started

        pipeline.Pipeline.run = timed
        return self

    def __exit__(self, *exc):
        self._module.Pipeline.run = self._run


def elasticsearch_cpu_ms(es) -> float:
    """CPU milliseconds the cluster's processes have used so far (nodes stats), summed over its nodes."""
    nodes = es.nodes.stats(metric="process")["nodes"].values()
    return float(sum(node["process"]["cpu"]["total_in_millis"] for node in nodes))


def ceiling(model_cpu_ms: float, own_cpu_ms: float) -> dict:
    """The most images/s these cores can give: every core busy, with the model's work and ours per image."""
    cores = usable_cores()
    return {"images_per_s": round(cores * 1000 / (model_cpu_ms + own_cpu_ms), 2), "cores": cores,
            "model_cpu_ms_per_image": round(model_cpu_ms, 1), "own_cpu_ms_per_image": round(own_cpu_ms, 1)}


def ready_pixels(settings, encoder, folder: Path) -> np.ndarray:
    """Every image of the run decoded and preprocessed as the pipeline does it (not timed)."""
    from es_search.decode import decode_image

    images = [decode_image(path, settings).image for path in image_files(folder)]
    return np.concatenate([encoder.preprocess(images[i:i + 32]) for i in range(0, len(images), 32)])


def encoder_alone(encoder, pixels: np.ndarray, batch_size: int) -> dict:
    """The model by itself: `encode_pixels` over the ready pixels in batches of `batch_size`, nothing else."""
    started, cpu = time.perf_counter(), _cpu_seconds()
    for start in range(0, len(pixels), batch_size):
        encoder.encode_pixels(pixels[start:start + batch_size])
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    return {"images_per_s": round(len(pixels) / seconds, 2), "cpu_ms_per_image": round(1000 * cpu / len(pixels), 1),
            "load_average_1m": round(os.getloadavg()[0], 2)}


def stage_profile(settings, encoder, folder: Path, limit: int = 48) -> dict:
    """CPU milliseconds per image of each non-model stage, one image at a time on this thread.

    The same functions the decode workers, the enrichers' pools, the feeder and the writer call, in the same
    order, with the enrichers the run builds from the same settings (the OCR gate included, run inline here);
    thumbnails go to a scratch folder. Thread CPU time, so other processes on the machine barely move it.
    """
    from elasticsearch.serializer import JsonSerializer

    from es_search.decode import decode_bytes, working_size
    from ingest.document import content_fields, new_document
    from ingest.encode import pixel_preprocessor
    from ingest.enrichers import build_enrichers
    from ingest.enrichers.small import analysis_image
    from ingest.fingerprint import hash_file, read_verified, stat_file
    from ingest.items import Item
    from ingest.plan import document_action
    from ingest.prepare import PreparedImage
    from ingest.thumbnails import write_thumbnail

    preprocess = pixel_preprocessor(encoder)
    pixel_enrichers = [e for e in build_enrichers(settings) if e.needs in ("small", "image")]
    for enricher in pixel_enrichers:
        enricher.load()
    serializer = JsonSerializer()
    min_side, min_long_side = working_size(settings)
    scratch = Path(tempfile.mkdtemp(prefix="imgsearch-stages-"))
    totals: dict[str, float] = {}

    def timed(name, fn, *args, **kwargs):
        started = time.thread_time()
        result = fn(*args, **kwargs)
        totals[name] = totals.get(name, 0.0) + time.thread_time() - started
        return result

    paths = image_files(folder)[:limit]
    try:
        # The first image twice: its first pass (lazy imports, the ONNX session, first calls) is not counted.
        for turn, path in enumerate([paths[0], *paths]):
            if turn == 1:
                totals.clear()
            facts = timed("stat+hash", lambda p=path: hash_file(stat_file(str(p))))
            data = timed("read+verify", read_verified, facts)
            decoded = timed("decode", decode_bytes, data, settings.max_image_pixels, min_side, min_long_side)
            thumb = timed("thumbnail", write_thumbnail, decoded.image, facts.sha256, scratch, settings.thumbnail_size)
            small, fields = None, {}
            for enricher in pixel_enrichers:
                image = decoded.image
                if enricher.needs == "small":
                    small = small or timed("analysis_image", analysis_image, decoded.image)
                    image = small
                fields.update(timed(enricher.name, enricher.enrich, image, data if enricher.wants_original else None))
            if preprocess is not None:
                timed("preprocess", preprocess, decoded.image)
            prepared = PreparedImage(facts, decoded.image, decoded.format, decoded.width, decoded.height,
                                     decoded.taken_at, thumb, fields=fields)
            vector = np.random.default_rng(0).normal(size=encoder.dims).astype(np.float32)

            def document(p=prepared, v=vector, where=str(path)):
                content = content_fields(p, v, encoder.name, {"category": "animal", "category_score": 0.5})
                doc = new_document(content, Item(where), p.facts.sha256, [where], [])
                return document_action(settings.index_alias, p.facts.sha256, doc, content_id=True, create_only=False)

            action = timed("document", document)
            timed("bulk_json", serializer.dumps, action["_source"])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    per_image = {name: round(1000 * total / len(paths), 2) for name, total in totals.items()}
    per_image["total"] = round(sum(per_image.values()), 2)
    return per_image


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
        for path in image_files(folder):
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
    parser.add_argument("--photos", default="640x480", choices=CHOICES,
                        help="the pictures: 640x480, 12mp, 24mp, png-screens, progressive or mix (default 640x480)")
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
    stages: dict[str, float] = {}
    aliases = []
    try:
        # Kept between runs (bench/photos.py): large sets take minutes to make, and comparisons read the same bytes.
        folder = base.data_dir / "bench-photos" / f"{args.photos}-{count}"
        files = make_photos(folder, count, args.photos)
        megabytes = sum(p.stat().st_size for p in files) / 2**20
        print(f"{count} pictures ({args.photos}, {megabytes / count:.2f} MB each) in {folder}; model: random "
              f"ViT-B/32 (512-d); batch {base.batch_size}, {base.decode_workers} decode workers, bulk {base.bulk_chunk}",
              flush=True)
        if backends:
            from es_search.encoders import build_image_encoder

            # Preprocessing is the same code for every backend, so one profile serves them all.
            profile_settings = base.with_overrides(image_backend=backends[0])
            stages = stage_profile(profile_settings, build_image_encoder(profile_settings), folder)
            print(f"    stages: CPU ms per image {stages}", flush=True)
        for backend in backends:
            alias = f"bench-ingest-{backend}-{uuid.uuid4().hex[:8]}"
            aliases.append(alias)
            settings = base.with_overrides(image_backend=backend, index_alias=alias, data_dir=work / f"data-{backend}")
            if backend.startswith("onnx"):
                # The export is cached beside the shared data, so it is made once per machine, not per run.
                settings = settings.with_overrides(data_dir=base.data_dir / "bench-data")
                shutil.rmtree(settings.data_dir / "thumbnails", ignore_errors=True)
                (settings.data_dir / "ingest-state.sqlite").unlink(missing_ok=True)
            results[backend] = run_pipeline(settings, es, folder, count, stages.get("total"))
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
    pipeline_only = {name: r["pipeline_images_per_s"] for name, r in results.items() if "pipeline_images_per_s" in r}
    vs_alone = {name: r["pipeline_vs_encoder_alone"] for name, r in results.items() if "pipeline_vs_encoder_alone" in r}
    alone = {name: r["encoder_alone"]["images_per_s"] for name, r in results.items() if "encoder_alone" in r}
    cpu_share = {name: r["encoder_cpu_share"] for name, r in results.items() if "encoder_cpu_share" in r}
    vs_ceiling = {name: r["pipeline_vs_ceiling"] for name, r in results.items() if "pipeline_vs_ceiling" in r}
    met = {}
    if "torch" in figures and args.photos == "640x480":
        met["torch_images_per_s"] = figures["torch"] >= TARGETS["torch_images_per_s"]
    if "onnx-int8" in figures and args.photos == "640x480":
        met["onnx_int8_images_per_s"] = figures["onnx-int8"] >= TARGETS["onnx_int8_images_per_s"]
    if "onnx-int8" in figures and args.photos == "12mp":
        met["onnx_int8_images_per_s_12mp"] = figures["onnx-int8"] >= TARGETS["onnx_int8_images_per_s_12mp"]
    for name, ratio in vs_ceiling.items():
        met[f"{name}_vs_ceiling"] = ratio >= TARGETS["pipeline_vs_ceiling"]
    if "torch_vs_baseline" in ratios:  # like for like: the same model at the same precision, batched and overlapped
        met["speedup_vs_baseline_torch"] = ratios["torch_vs_baseline"] >= TARGETS["speedup_vs_baseline"]
    for name, ratio in vs_alone.items():
        met[f"{name}_vs_encoder_alone"] = ratio >= TARGETS["pipeline_vs_encoder_alone"]
    if ratios:
        met["speedup_vs_baseline_best"] = max(ratios.values()) >= TARGETS["speedup_vs_baseline"]
    print(json.dumps({
        "benchmark": "ingest", "images": count, "photos": args.photos, "quick": args.quick, "cpus": usable_cores(),
        "machine": platform.processor() or platform.machine(), "load_average_1m": [load_at_start, round(os.getloadavg()[0], 2)],
        "batch_size": base.batch_size,
        "decode_workers": base.decode_workers, "images_per_s": figures, "pipeline_images_per_s": pipeline_only,
        "ratios": ratios,
        "encoder_alone_images_per_s": alone, "pipeline / encoder alone": vs_alone,
        "encoder_cpu_share": cpu_share, "stage_cpu_ms_per_image": stages,
        "ceiling_images_per_s": {name: r["ceiling"]["images_per_s"] for name, r in results.items() if "ceiling" in r},
        "pipeline / ceiling": vs_ceiling,
        "run / ceiling": {name: r["run_vs_ceiling"] for name, r in results.items() if "run_vs_ceiling" in r},
        "elasticsearch_cpu_ms_per_image": {name: r["elasticsearch_cpu_ms_per_image"] for name, r in results.items()
                                           if "elasticsearch_cpu_ms_per_image" in r},
        "pipeline / ceiling with elasticsearch": {name: r["pipeline_vs_ceiling_with_elasticsearch"]
                                                  for name, r in results.items()
                                                  if "pipeline_vs_ceiling_with_elasticsearch" in r},
        "model_cpu_ms_per_image alone / in pipeline": {
            name: [r["ceiling"]["model_cpu_ms_per_image"], r["model_cpu_ms_per_image_in_pipeline"]]
            for name, r in results.items() if "ceiling" in r},
        "cores_busy": {name: r["cores_busy"] for name, r in results.items() if "cores_busy" in r},
        "details": results, "targets": TARGETS, "targets_met": met,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
