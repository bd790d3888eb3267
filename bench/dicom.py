"""DICOM: decode milliseconds per file (CT, MR, compressed), and ingest images/s of a folder of DICOM files
against the same images as JPEG, in one run.

Decode: pydicom's own test files (in its wheel), each decoded `--repeat` times through the product's decoder
(`es_search.decode.decode_bytes`: pixels, modality LUT, window, 8-bit RGB, tags), median milliseconds.
Ingest: `--n` CT-like 512×512 16-bit slices written here (a disc of soft tissue with noise, a different
offset each), once as DICOM and once as the JPEG of the same 8-bit picture, each folder ingested into the real
node with a full-size random ViT-B/32 CLIP, OCR off (it never reads DICOM), after a warm-up run. Prints one
JSON line with the load average.

    python bench/dicom.py              # 120 slices
Figures: docs/benchmarks.md, "DICOM".
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DECODED = {"CT 128×128, 16-bit": "CT_small.dcm", "MR 64×64, 16-bit": "MR_small.dcm",
           "MR, RLE": "MR_small_RLE.dcm", "MR, JPEG 2000 lossless": "MR_small_jp2klossless.dcm",
           "MR, JPEG-LS lossless": "MR_small_jpeg_ls_lossless.dcm", "NM 1024×256, JPEG extended": "JPGExtended.dcm",
           "US 30 frames 320×240, JPEG YBR": "examples_ybr_color.dcm"}


def decode_figures(repeat: int) -> dict:
    from es_search.decode import decode_bytes
    from tests.support.dicom_files import bundled

    figures = {}
    for label, name in DECODED.items():
        data = bundled(name).read_bytes()
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            decode_bytes(data, max_pixels=40_000_000)
            times.append((time.perf_counter() - started) * 1000)
        figures[label] = round(statistics.median(times), 2)
    return figures


def write_slices(dicom: Path, jpeg: Path, n: int) -> None:
    from PIL import Image

    from es_search.decode import decode_bytes
    from tests.support.dicom_files import write_dicom

    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[:512, :512]
    for i in range(n):
        disc = ((yy - 256 - i % 40) ** 2 + (xx - 256) ** 2 < (180 + i % 30) ** 2)
        hu = np.where(disc, 1040 + 30 * rng.standard_normal((512, 512)), 24).astype(np.int32)  # stored = HU + 1024
        path = write_dicom(dicom / f"slice-{i:04d}.dcm", np.clip(hu, 0, 4095).astype(np.uint16),
                           tags={"SeriesDescription": f"AX {i}", "RescaleIntercept": "-1024", "RescaleSlope": "1"})
        picture = decode_bytes(path.read_bytes(), max_pixels=10**8, min_side=1024).image
        picture.save(jpeg / f"slice-{i:04d}.jpg", quality=92)
        assert isinstance(picture, Image.Image)


def ingest_figures(folder: Path, n: int, settings, es, image_encoder, text_encoder) -> dict:
    from ingest.runner import run_ingest

    started = time.perf_counter()
    summary = run_ingest(settings, [folder], es=es, image_encoder=image_encoder, text_encoder=text_encoder)
    wall = time.perf_counter() - started
    if summary.indexed != n or summary.failed:
        raise SystemExit(f"expected {n} indexed: {summary.to_dict()}")
    return {"wall_s": round(wall, 2), "images_per_s": round(n / wall, 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    from es_search.client import build_client, check_cluster
    from es_search.config import load_settings
    from es_search.encoders import build_image_encoder, build_text_encoder
    from es_search.index import delete_index
    from es_search.tiny_model import make_random_clip

    figures: dict = {"decode_ms": decode_figures(args.repeat)}
    base = load_settings()
    model_dir = make_random_clip(base.data_dir / "bench-models" / "random-clip-vit-b-32", full_size=True)
    base = base.with_overrides(image_model=str(model_dir), text_model=str(model_dir), text_backend="local", ocr="off",
                               faces="off")
    es = build_client(base)
    check_cluster(es, base)
    image_encoder, text_encoder = build_image_encoder(base), build_text_encoder(base, es)
    with tempfile.TemporaryDirectory() as work:
        folders = {kind: Path(work) / kind for kind in ("dicom", "jpeg", "warm-dicom", "warm-jpeg")}
        for folder in folders.values():
            folder.mkdir()
        write_slices(folders["dicom"], folders["jpeg"], args.n)
        write_slices(folders["warm-dicom"], folders["warm-jpeg"], 8)
        for kind in ("warm-dicom", "warm-jpeg", "dicom", "jpeg"):
            alias = f"bench-dicom-{uuid.uuid4().hex[:8]}"
            settings = base.with_overrides(index_alias=alias, data_dir=Path(work) / f"data-{kind}")
            try:
                result = ingest_figures(folders[kind], 8 if kind.startswith("warm") else args.n, settings, es,
                                        image_encoder, text_encoder)
            finally:
                delete_index(es, alias)
            if not kind.startswith("warm"):
                figures[f"ingest_{kind}"] = result
            print(f"{kind}: {result}", file=sys.stderr, flush=True)
    figures["dicom_vs_jpeg"] = round(figures["ingest_dicom"]["images_per_s"] / figures["ingest_jpeg"]["images_per_s"], 3)
    print(json.dumps({**figures, "n": args.n, "load_average": os.getloadavg()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
