"""How far the ONNX image backends (fp32, int8) drift from PyTorch on a full-size ViT-B/32 CLIP, and how fast each is.

The model has clip-ViT-B-32's shapes but random weights (no downloads here): built once under
.data/bench-models and reused. Prints mean cosine to the PyTorch vectors, top-10 neighbour agreement,
and throughput per backend; the last line is one JSON object.

    .venv/bin/python bench/onnx_agreement.py [--quick] [-n 200] [--batch 32]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from es_search.config import load_settings  # noqa: E402
from es_search.encoders.local import LocalEncoder  # noqa: E402
from es_search.encoders.onnx import OnnxImageEncoder, ensure_onnx_model  # noqa: E402
from es_search.tiny_model import make_random_clip  # noqa: E402


def generated_images(n: int, seed: int = 0) -> list[Image.Image]:
    """Photo-sized images with gradients, a few blocks of colour and noise; distinct per index."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n):
        w, h = int(rng.integers(240, 641)), int(rng.integers(200, 481))
        y, x = np.mgrid[0:h, 0:w]
        pixels = rng.uniform(0, 255, 3) + x[..., None] * rng.uniform(-0.4, 0.4, 3) + y[..., None] * rng.uniform(-0.4, 0.4, 3)
        for _ in range(int(rng.integers(1, 5))):
            top, left = int(rng.integers(0, h - 20)), int(rng.integers(0, w - 20))
            pixels[top:top + int(rng.integers(10, h // 2)), left:left + int(rng.integers(10, w // 2))] = rng.uniform(0, 255, 3)
        pixels += rng.normal(0, 10, pixels.shape)
        images.append(Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB"))
    return images


def top_k_agreement(reference: np.ndarray, other: np.ndarray, k: int = 10) -> float:
    """Mean overlap of each vector's k nearest neighbours (itself excluded) under two encodings."""
    def neighbours(v):
        sims = v @ v.T
        np.fill_diagonal(sims, -np.inf)
        return np.argsort(-sims, axis=1)[:, :k]

    return float(np.mean([len(set(a) & set(b)) / k
                          for a, b in zip(neighbours(reference), neighbours(other), strict=True)]))


def throughput(encode, batch: list[Image.Image], repeats: int) -> float:
    """Images per second for one batch (preprocessing included), median of `repeats` after one warm-up."""
    encode(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        encode(batch)
        times.append(time.perf_counter() - start)
    return len(batch) / statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 images, one timing repeat")
    parser.add_argument("-n", type=int, default=None, help="images to encode (default 200, --quick 50)")
    parser.add_argument("--batch", type=int, default=32, help="batch size for encoding and timing (default 32)")
    args = parser.parse_args()
    n = args.n or (50 if args.quick else 200)
    repeats = 1 if args.quick else 3

    base = load_settings()
    started = time.perf_counter()
    model_dir = make_random_clip(base.data_dir / "bench-models" / "clip-vit-b-32-random", full_size=True)
    build_s = time.perf_counter() - started
    settings = base.with_overrides(image_model=str(model_dir), device="cpu", batch_size=args.batch)

    started = time.perf_counter()
    for precision in ("fp32", "int8"):
        ensure_onnx_model(settings, precision)
    export_s = time.perf_counter() - started

    images = generated_images(n)
    encoders = {
        "torch": LocalEncoder(settings),
        "onnx-fp32": OnnxImageEncoder(settings, quantize="fp32"),
        "onnx-int8": OnnxImageEncoder(settings, quantize="int8"),
    }
    vectors, speed = {}, {}
    for name, encoder in encoders.items():
        vectors[name] = encoder.encode_images(images)
        speed[name] = throughput(encoder.encode_images, images[:args.batch], repeats)

    reference = vectors["torch"]
    pairwise = reference @ reference.T
    result = {
        "model": "random ViT-B/32 CLIP (clip-ViT-B-32 shapes)",
        "images": n,
        "batch": args.batch,
        "cpu_threads": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_mean_pairwise_cosine": round(float(pairwise[~np.eye(n, dtype=bool)].mean()), 4),
        "model_build_s": round(build_s, 1),
        "onnx_export_s": round(export_s, 1),
    }
    print(f"{n} images, batch {args.batch}, random ViT-B/32 CLIP; model ready in {build_s:.1f}s, exports in {export_s:.1f}s")
    print(f"{'backend':<10} {'mean cos':>10} {'min cos':>10} {'top-10':>8} {'img/s':>8}")
    for name in encoders:
        cos = (vectors[name] * reference).sum(axis=1)
        agreement = top_k_agreement(reference, vectors[name])
        print(f"{name:<10} {cos.mean():>10.6f} {cos.min():>10.6f} {agreement:>8.3f} {speed[name]:>8.1f}")
        key = name.replace("-", "_")
        result[f"{key}_mean_cosine"] = round(float(cos.mean()), 6)
        result[f"{key}_min_cosine"] = round(float(cos.min()), 6)
        result[f"{key}_top10_agreement"] = round(agreement, 4)
        result[f"{key}_images_per_s"] = round(speed[name], 1)
    onnx_dir = ensure_onnx_model(settings, "fp32").parent
    result["onnx_fp32_mb"] = round((onnx_dir / "vision-fp32.onnx").stat().st_size / 2**20, 1)
    result["onnx_int8_mb"] = round((onnx_dir / "vision-int8.onnx").stat().st_size / 2**20, 1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
