"""Video ingest speed: frames decoded per second, and seconds of video indexed per second of wall time, for
a 1080p and a 4K clip (as ratios to real-time playback).

Each clip is written here with PyAV (H.264, 25 fps): a noise texture drifting across the frame, so the
encoder has real work and the decoder too, with a scene cut every 7 seconds. Two figures per clip:
- decode: `ingest/video.py` alone, every frame decoded, frames kept every 2 s and at cuts (the product's
  sampler); `realtime` = clip seconds / wall seconds;
- ingest: `imgsearch ingest` of the clip's folder into the real node, with a full-size randomly initialised
  ViT-B/32 CLIP (the real model's compute), OCR as configured, faces off; `realtime` likewise.
The models, the index and OCR are warmed up on a small clip first. Prints one JSON line with the load
average; IMGSEARCH_OCR=off measures without the text gate and reader.

    python bench/video.py                 # a 20 s 1080p clip and a 10 s 4K clip
    python bench/video.py --seconds 10    # both 10 s

Figures: docs/benchmarks.md, "Video".
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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FPS = 25
CUT_EVERY = 7.0


def write_clip(path: Path, size: tuple[int, int], seconds: float) -> Path:
    import av

    width, height = size
    rng = np.random.default_rng(1)
    texture = rng.integers(0, 255, (height // 8 + 2, width // 8 + 2, 3), dtype=np.uint8)
    texture = np.kron(texture, np.ones((8, 8, 1), np.uint8))  # 8-pixel blocks: compressible, not flat
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"preset": "veryfast", "crf": "23"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for n in range(int(seconds * FPS)):
            scene = int(n / FPS // CUT_EVERY)
            shift = n * 4
            frame = np.roll(texture, (shift % 8 + scene * 37, shift), axis=(0, 1))[:height, :width]
            frame = (frame // (scene % 3 + 1)).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def decode_figures(path: Path, seconds: float, settings) -> dict:
    from ingest.video import FrameSampler, read_frames

    decoded: list[int] = []
    started = time.perf_counter()
    kept = 0
    for _ in read_frames(str(path), FrameSampler(settings.video_interval, settings.video_scene_threshold),
                         max_pixels=settings.max_image_pixels, progress=lambda f, s, d: decoded.append(f)):
        kept += 1
    wall = time.perf_counter() - started
    frames = int(seconds * FPS)
    return {"wall_s": round(wall, 2), "frames_per_s": round(frames / wall, 1), "kept": kept,
            "realtime": round(seconds / wall, 2)}


def ingest_figures(folder: Path, seconds: float, settings, es, image_encoder, text_encoder) -> dict:
    from ingest.runner import run_ingest

    started = time.perf_counter()
    summary = run_ingest(settings, [folder], es=es, image_encoder=image_encoder, text_encoder=text_encoder)
    wall = time.perf_counter() - started
    if summary.failed or not summary.indexed:
        raise SystemExit(f"the ingest failed: {summary.to_dict()}")
    return {"wall_s": round(wall, 2), "frames_indexed": summary.indexed,
            "frames_decoded_per_s": round(seconds * FPS / wall, 1), "realtime": round(seconds / wall, 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, help="both clips this long (default 20 s 1080p, 10 s 4K)")
    args = parser.parse_args(argv)
    from es_search.client import build_client, check_cluster
    from es_search.config import load_settings
    from es_search.encoders import build_image_encoder, build_text_encoder
    from es_search.index import delete_index
    from es_search.tiny_model import make_random_clip

    base = load_settings()
    model_dir = make_random_clip(base.data_dir / "bench-models" / "random-clip-vit-b-32", full_size=True)
    base = base.with_overrides(image_model=str(model_dir), text_model=str(model_dir), text_backend="local",
                               faces="off")
    es = build_client(base)
    check_cluster(es, base)
    image_encoder, text_encoder = build_image_encoder(base), build_text_encoder(base, es)
    clips = {"1080p": ((1920, 1080), args.seconds or 20.0), "4k": ((3840, 2160), args.seconds or 10.0)}
    figures: dict = {}
    with tempfile.TemporaryDirectory() as work:
        # Warm-up outside the clock: the index's first writes, the models' first batches, OCR's sessions.
        warm = Path(work) / "warm-up"
        warm.mkdir()
        write_clip(warm / "warm.mp4", (640, 360), 4.0)
        warm_alias = f"bench-video-{uuid.uuid4().hex[:8]}"
        try:
            ingest_figures(warm, 4.0, base.with_overrides(index_alias=warm_alias, data_dir=Path(work) / "data-warm"),
                           es, image_encoder, text_encoder)
        finally:
            delete_index(es, warm_alias)
        for name, (size, seconds) in clips.items():
            folder = Path(work) / name
            folder.mkdir()
            started = time.perf_counter()
            path = write_clip(folder / f"{name}.mp4", size, seconds)
            print(f"{name}: wrote {seconds:.0f} s in {time.perf_counter() - started:.0f} s", file=sys.stderr,
                  flush=True)
            alias = f"bench-video-{uuid.uuid4().hex[:8]}"
            settings = base.with_overrides(index_alias=alias, data_dir=Path(work) / f"data-{name}")
            try:
                figures[name] = {"size": list(size), "seconds": seconds, "bytes": path.stat().st_size,
                                 "decode": decode_figures(path, seconds, settings),
                                 "ingest": ingest_figures(folder, seconds, settings, es, image_encoder, text_encoder)}
            finally:
                delete_index(es, alias)
            print(f"{name}: {figures[name]}", file=sys.stderr, flush=True)
    print(json.dumps({"clips": figures, "interval_s": base.video_interval, "ocr": base.ocr,
                      "image_backend": base.image_backend, "load_average": os.getloadavg()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
