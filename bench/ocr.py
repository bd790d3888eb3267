"""Text inside images: what PP-OCRv4 (rapidocr-onnxruntime) reads, how well its words are found, and what
it costs the ingest. Everything is drawn here (demo/rendered_text.py) with Debian's fonts; one run measures:

- reading: character accuracy on a collection of documents, screenshots, signs and captioned photos,
  English and Chinese apart; OCR ms per image with text (the reader) and without (the gate; and the reader
  alone, as `on` mode pays it);
- the gate: the share of images with text it lets through, and of text-free photos it stops;
- search: each word that only one image holds, searched in text mode: how often that image is in the top 3
  (English and Chinese apart), on the real node with the collection ingested (tiny random image model);
- 拍照搜题: a bank of printed questions ingested, phone photos of some of them searched as images:
  the right question at rank 1 and in the top 5;
- ingest cost: images/s on text-free 640×480 photos with OCR off, auto and on, in one run, with the
  full-size random ViT-B/32 on the chosen backend.

    python bench/ocr.py            # 200 images, 200 questions, 60 photos, 120 ingest images
    python bench/ocr.py --quick    # 40, 40, 20, 32

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from bench.ingest import make_jpegs  # noqa: E402
from demo.ocr_quality import char_accuracy, question_photos, word_search  # noqa: E402
from demo.rendered_text import (  # noqa: E402
    question_bank,
    text_collection,
    text_free_photos,
)
from es_search.client import build_client, check_cluster  # noqa: E402
from es_search.config import load_settings  # noqa: E402
from es_search.decode import fit_working_size  # noqa: E402
from es_search.index import delete_index  # noqa: E402
from es_search.ocr.engine import ENGINE_NAME, GATE_MIN_EDGES, OcrEngine, edge_share, shared_engine  # noqa: E402
from es_search.ocr.lines import joined_text  # noqa: E402

TARGETS = {"top3_en": 0.95, "top3_zh": 0.90, "question_rank1": 0.90, "question_top5": 0.98, "gate_recall": 0.95,
           "auto_vs_off_text_free": 0.85, "auto_vs_off_textured": 0.85}


def ms(seconds: float, count: int) -> float:
    return round(1000 * seconds / max(1, count), 1)


def reading(engine: OcrEngine, drawn, photos) -> dict:
    accuracy: dict[str, list[float]] = {"en": [], "zh": []}
    read_s = gate_s = 0.0
    passed = 0
    for item in drawn:
        started = time.perf_counter()
        passed += engine.has_text(fit_working_size(item.image, 224, 256))
        gate_s += time.perf_counter() - started
        started = time.perf_counter()
        read = joined_text(engine.read(item.image))
        read_s += time.perf_counter() - started
        accuracy[item.language].append(char_accuracy(item.text, read))
    free_gate_s = free_read_s = 0.0
    stopped = 0
    working = [fit_working_size(photo, 224, 256) for photo in photos]
    for photo, small in zip(photos, working, strict=True):
        started = time.perf_counter()
        stopped += not engine.has_text(small)
        free_gate_s += time.perf_counter() - started
        started = time.perf_counter()
        engine.read(photo)
        free_read_s += time.perf_counter() - started
    real = real_photos()
    started = time.perf_counter()
    real_stopped = sum(not engine.has_text(photo) for photo in real)
    real_s = time.perf_counter() - started
    return {
        "char_accuracy_en": round(sum(accuracy["en"]) / len(accuracy["en"]), 4),
        "gate_edges_skip_text_free": round(sum(edge_share(p) < GATE_MIN_EDGES for p in working) / len(working), 4),
        "real_photos": len(real), "real_photos_stopped": real_stopped,
        "real_photos_skipped_by_edges": sum(edge_share(p) < GATE_MIN_EDGES for p in real),
        "ms_gate_real_photos": ms(real_s, len(real)),
        "char_accuracy_zh": round(sum(accuracy["zh"]) / len(accuracy["zh"]), 4),
        "gate_recall": round(passed / len(drawn), 4), "gate_stops_text_free": round(stopped / len(photos), 4),
        "ms_read_with_text": ms(read_s, len(drawn)), "ms_gate_with_text": ms(gate_s, len(drawn)),
        "ms_gate_text_free": ms(free_gate_s, len(photos)), "ms_read_text_free": ms(free_read_s, len(photos)),
    }


def real_photos(full: bool = False) -> list:
    """scikit-image's sample photographs without text (astronaut, coffee, cat...), as working images (or as
    they are, `full`): real textures, where the drawn scenes are smooth. Empty without scikit-image (the
    `demo` extra)."""
    try:
        from skimage import data
    except ImportError:
        return []
    from PIL import Image

    names = ("astronaut", "coffee", "chelsea", "cat", "rocket", "hubble_deep_field", "immunohistochemistry",
             "retina", "camera", "moon", "horse", "brick", "grass", "gravel", "coins", "clock", "colorwheel")
    photos = []
    for name in names:
        try:
            photo = Image.fromarray(getattr(data, name)()).convert("RGB")
            photos.append(photo if full else fit_working_size(photo, 224, 256))
        except Exception:  # a sample the installed version lacks, or one it would download
            continue
    return photos


def textured_jpegs(folder: Path, count: int, size=(640, 480)) -> int:
    """Text-free photos with real texture: random crops of scikit-image's sample photographs (fur, grass,
    gravel, faces, coffee...) at 640×480; 0 without scikit-image."""
    photos = real_photos(full=True)
    if not photos:
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(4)
    for n in range(count):
        photo = photos[n % len(photos)]
        scale = rng.uniform(0.5, 1.0)
        w, h = max(32, int(photo.width * scale)), max(24, int(photo.height * scale))
        x, y = rng.randint(0, photo.width - w), rng.randint(0, photo.height - h)
        photo.crop((x, y, x + w, y + h)).resize(size).save(folder / f"textured-{n:04d}.jpg", quality=90)
    return count


def ingest_cost(base, es, count: int, work: Path, backend: str) -> dict:
    from PIL import Image

    from es_search.encoders import build_image_encoder, build_text_encoder
    from es_search.tiny_model import make_random_clip
    from ingest.runner import run_ingest

    model_dir = make_random_clip(base.data_dir / "bench-models" / "random-clip-vit-b-32", full_size=True)
    base = base.with_overrides(image_model=str(model_dir), text_model=str(model_dir), text_backend="local",
                               image_backend=backend, data_dir=base.data_dir / "bench-data")
    folders = {"smooth": work / "smooth"}
    make_jpegs(folders["smooth"], count)
    if textured_jpegs(work / "textured", count):
        folders["textured"] = work / "textured"
    image_encoder, text_encoder = build_image_encoder(base), build_text_encoder(base, es)
    image_encoder.encode_images([Image.new("RGB", (640, 480), (90, 120, 150))] * 2)
    shared_engine().load()
    figures: dict = {"backend": backend, "images": count}
    for kind, folder in folders.items():
        runs: dict[str, list[float]] = {}
        # A first run untimed (thumbnails folder, the node's first bulk, the model's first batches), then off
        # and auto in turn, twice, so drift and noise show and fall on both alike; on once (it is far slower).
        for mode in ("warm-up", "off", "auto", "off", "auto", "on"):
            alias = f"bench-ocr-ingest-{uuid.uuid4().hex[:8]}"
            settings = base.with_overrides(index_alias=alias, ocr="off" if mode == "warm-up" else mode)
            shutil.rmtree(settings.data_dir / "thumbnails", ignore_errors=True)
            (settings.data_dir / "ingest-state.sqlite").unlink(missing_ok=True)
            started = time.perf_counter()
            summary = run_ingest(settings, [folder], es=es, image_encoder=image_encoder, text_encoder=text_encoder)
            seconds = time.perf_counter() - started
            delete_index(es, alias)
            if summary.indexed != count:
                raise SystemExit(f"ocr={mode}: expected {count} indexed, got {summary.to_dict()}")
            if mode == "warm-up":
                continue
            runs.setdefault(mode, []).append(round(count / seconds, 2))
            print(f"  {kind} ingest ocr={mode}: {runs[mode][-1]} images/s", flush=True)
        mean = {mode: sum(values) / len(values) for mode, values in runs.items()}
        figures[kind] = {"images_per_s": runs, "auto_vs_off": round(mean["auto"] / mean["off"], 3),
                         "on_vs_off": round(mean["on"] / mean["off"], 3)}
    figures["auto_vs_off_text_free"] = figures["smooth"]["auto_vs_off"]
    if "textured" in figures:
        figures["auto_vs_off_textured"] = figures["textured"]["auto_vs_off"]
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--backend", default="onnx-int8", help="the image model's backend for the ingest cost")
    args = parser.parse_args(argv)
    images, questions, photos, ingest_images = (40, 40, 20, 32) if args.quick else (200, 200, 60, 120)
    load_at_start = round(os.getloadavg()[0], 2)
    base = load_settings()
    es = build_client(base)
    check_cluster(es, base)
    from es_search.tiny_model import TINY_MODEL_VERSION, make_tiny_models

    tiny_image, tiny_text = make_tiny_models(base.data_dir / "test-models" / f"v{TINY_MODEL_VERSION}", dims=32)
    engine = OcrEngine()
    engine.load()
    drawn = text_collection(images, seed=7)
    figures: dict = {"engine": ENGINE_NAME, "load_average_at_start": load_at_start}
    figures["reading"] = reading(engine, drawn, text_free_photos(max(20, images // 2), seed=11))
    print(f"reading: {figures['reading']}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="imgsearch-bench-ocr-"))
    aliases = [f"bench-ocr-words-{uuid.uuid4().hex[:8]}", f"bench-ocr-bank-{uuid.uuid4().hex[:8]}"]
    tiny = base.with_overrides(image_model=str(tiny_image), text_model=str(tiny_text), ocr="auto")
    try:
        figures["search"] = word_search(tiny.with_overrides(index_alias=aliases[0], data_dir=work / "d1"), es, drawn, work)
        print(f"search: {figures['search']}", flush=True)
        figures["questions"] = question_photos(tiny.with_overrides(index_alias=aliases[1], data_dir=work / "d2"), es,
                                               question_bank(questions, seed=5), photos)
        print(f"questions: {figures['questions']}", flush=True)
        figures["ingest"] = ingest_cost(base, es, ingest_images, work, args.backend)
    finally:
        for alias in aliases:
            delete_index(es, alias)
        shutil.rmtree(work, ignore_errors=True)
    figures["load_average_at_end"] = round(os.getloadavg()[0], 2)
    flat = {**figures["reading"], **figures["search"], **figures["questions"], **figures["ingest"]}
    figures["targets"] = {name: {"target": target, "measured": flat.get(name), "met": flat.get(name, 0) >= target}
                          for name, target in TARGETS.items()}
    print(json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
