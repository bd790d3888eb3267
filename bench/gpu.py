"""The GPU path, in one short run: the model alone, JPEG decoding alone, and the whole ingest, on a CUDA device.

Prepared for a GPU machine lent for a few minutes (docs/benchmarks.md, "The GPU path"). With the full-size
random ViT-B/32 (bench/ingest.py says why random weights give real speeds) and generated pictures of 0.3 MP
(640×480) and 12 MP (4000×3000, bench/photos.py), it prints:
- **model alone**: `encode_pixels` on ready pixels, batch `--batch-size`, float16 (autocast) and float32;
- **decode alone**: es_search/device_decode.py's batched nvJPEG decoder fed by `--decode-workers` threads,
  each picture decoded and resized to working size on the GPU, and Pillow's CPU decode for comparison;
- **end to end**: `run_ingest` (decode on the GPU, enrichers and thumbnails on the CPU, the fp16 model,
  bulk into Elasticsearch) into the node at IMGSEARCH_ES_URL. Without a node there, this part says so and
  the rest is still measured.
The last line printed is one JSON object. Targets (issue 26): ≥ 5,000 img/s end to end at 0.3 MP and
≥ 1,500 at 12 MP on one H200.

    python bench/gpu.py                          # on the GPU machine
    python bench/gpu.py --device cpu -n 16       # a smoke run of the same code on a CPU
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.photos import image_files, make_photos  # noqa: E402
from es_search.config import load_settings  # noqa: E402
from es_search.model_loading import usable_cores  # noqa: E402

TARGETS = {"end_to_end_images_per_s_0.3mp": 5000.0, "end_to_end_images_per_s_12mp": 1500.0}
SHAPES = {"0.3mp": "640x480", "12mp": "12mp"}


def model_alone(settings, count: int) -> dict:
    """img/s of the image model alone on ready pixels, fp16 and fp32."""
    import torch

    from es_search.encoders.local import LocalEncoder

    out = {}
    for precision in ("fp16", "fp32"):
        encoder = LocalEncoder(settings.with_overrides(gpu_precision=precision))
        pixels = np.random.default_rng(0).normal(size=(settings.batch_size, 3, 224, 224)).astype(np.float32)
        encoder.encode_pixels(pixels)  # load and warm up
        batches = max(1, count // settings.batch_size)
        if encoder.device.startswith("cuda"):
            torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(batches):
            encoder.encode_pixels(pixels)
        seconds = time.perf_counter() - started
        out[precision] = round(batches * settings.batch_size / seconds, 1)
    return out


def decode_alone(settings, files: list[Path], device: str, workers: int) -> dict:
    """img/s decoding every file to working size: on the device in batches, and by Pillow on the CPU."""
    from es_search.decode import decode_bytes, working_size
    from es_search.device_decode import DeviceJpegDecoder

    datas = [path.read_bytes() for path in files]
    min_side, min_long_side = working_size(settings)
    decoder = DeviceJpegDecoder(device)
    out = {}
    for name, jpeg_decoder in (("device", decoder), ("pillow", None)):
        def one(data, chosen=jpeg_decoder):
            return decode_bytes(data, settings.max_image_pixels, min_side, min_long_side, jpeg_decoder=chosen)

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, datas[:workers]))  # warm-up
            started = time.perf_counter()
            list(pool.map(one, datas))
            out[name] = round(len(datas) / (time.perf_counter() - started), 1)
    out["device_batches"] = decoder.calls
    decoder.close()
    return out


def end_to_end(settings, folder: Path, count: int) -> dict:
    """The whole ingest of `folder` into a fresh index of the node; img/s, and what each thread used."""
    from es_search.client import build_client, check_cluster
    from es_search.encoders import build_image_encoder, build_text_encoder
    from es_search.index import delete_index
    from ingest.runner import run_ingest

    alias = f"bench-gpu-{uuid.uuid4().hex[:8]}"
    scratch = Path(tempfile.mkdtemp(prefix="imgsearch-gpu-"))  # thumbnails and the run's state, removed after
    settings = settings.with_overrides(index_alias=alias, data_dir=scratch)
    try:
        es = build_client(settings)
        check_cluster(es, settings)
        image_encoder, text_encoder = build_image_encoder(settings), build_text_encoder(settings, es)
        image_encoder.encode_pixels(np.zeros((2, 3, 224, 224), np.float32))
        text_encoder.encode_texts(["a photo"])
        try:
            started = time.perf_counter()
            summary = run_ingest(settings, [folder], es=es, image_encoder=image_encoder, text_encoder=text_encoder)
            seconds = time.perf_counter() - started
        finally:
            delete_index(es, alias)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if summary.indexed != count:
        return {"error": f"expected {count} indexed, got {summary.to_dict()}"}
    return {"images_per_s": round(count / seconds, 1), "seconds": round(seconds, 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("-n", "--images", type=int, default=2000, help="pictures per set (default 2000)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--decode-workers", type=int, default=8)
    parser.add_argument("--shapes", default="0.3mp,12mp")
    parser.add_argument("--unique", type=int, default=64,
                        help="distinct pictures per set; the other files repeat them with comments of their own")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            print("no CUDA device here: run it on the GPU machine, or with --device cpu for a smoke run", flush=True)
            return 2

    from es_search.tiny_model import make_random_clip

    base = load_settings()
    model_dir = make_random_clip(base.data_dir / "bench-models" / "random-clip-vit-b-32", full_size=True)
    settings = base.with_overrides(image_model=str(model_dir), text_model=str(model_dir), text_backend="local",
                                   image_backend="torch", device=args.device, batch_size=args.batch_size,
                                   decode_workers=args.decode_workers, jpeg_decoder="device",
                                   bulk_chunk=max(base.bulk_chunk, 1000))
    result: dict = {"benchmark": "gpu", "device": args.device, "images": args.images,
                    "machine": platform.processor() or platform.machine(), "cpus": usable_cores(),
                    "load_average_start": [round(x, 2) for x in os.getloadavg()]}
    if args.device.startswith("cuda"):
        import torch

        result["gpu"] = torch.cuda.get_device_name(0)
    result["model_alone_images_per_s"] = model_alone(settings, max(args.images, 4 * args.batch_size))
    print(f"model alone: {result['model_alone_images_per_s']}", flush=True)
    for label in [s.strip() for s in args.shapes.split(",") if s.strip()]:
        folder = base.data_dir / "bench-photos" / f"{SHAPES[label]}-{args.images}-of-{args.unique}"
        files = make_photos(folder, args.images, SHAPES[label], unique=args.unique)
        figures = {"decode_alone_images_per_s": decode_alone(settings, files, args.device, args.decode_workers)}
        try:
            figures["end_to_end"] = end_to_end(settings, folder, len(image_files(folder)))
        except Exception as exc:  # no node on this machine: the other figures still stand
            figures["end_to_end"] = {"skipped": f"{type(exc).__name__}: {exc}"}
        result[label] = figures
        print(f"{label}: {figures}", flush=True)
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["threads_alive"] = threading.active_count()
    result["targets"] = TARGETS
    result["targets_met"] = {
        key: result.get(label, {}).get("end_to_end", {}).get("images_per_s", 0) >= TARGETS[key]
        for key, label in (("end_to_end_images_per_s_0.3mp", "0.3mp"), ("end_to_end_images_per_s_12mp", "12mp"))}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
