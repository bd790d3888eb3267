"""CLIP image vectors through ONNX Runtime on the CPU: the vision tower + projection exported once, cached.

The export (fp32, and int8 by dynamic quantization) lives under `settings.data_dir / "onnx"`, keyed by the
model's name and a hash of its files, with the image processor's settings beside it; a cache hit needs
no PyTorch at all. Preprocessing is done here in PIL/numpy the way CLIP's image processor does it, so
fp32 vectors agree with the PyTorch ones. Texts go to the local (PyTorch) text encoder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from es_search.config import Settings
from es_search.encoders.base import EncoderUnavailable
from es_search.encoders.local import (
    _as_rgb,
    load_sentence_transformer,
    looks_like_path,
    model_display_name,
)

# Bump when the exported graph or the cache layout changes.
EXPORT_VERSION = "1"
OPSET = 17
PRECISIONS = ("fp32", "int8")
_SESSIONS_LOCK = threading.Lock()


@dataclass(frozen=True)
class ClipPreprocessing:
    """The image processor's settings that matter for CLIP: resize, centre crop, rescale, normalise."""

    resize_shortest_edge: int | None  # None: resize to (resize_height, resize_width) exactly
    resize_height: int
    resize_width: int
    resample: int
    crop_height: int | None  # None: no centre crop
    crop_width: int | None
    rescale_factor: float | None
    mean: tuple[float, float, float] | None
    std: tuple[float, float, float] | None

    @classmethod
    def from_image_processor(cls, proc) -> ClipPreprocessing:
        size = dict(proc.size) if proc.do_resize else {}
        crop = dict(proc.crop_size) if getattr(proc, "do_center_crop", False) else {}
        return cls(
            resize_shortest_edge=size.get("shortest_edge"),
            resize_height=int(size.get("height", 0)),
            resize_width=int(size.get("width", 0)),
            resample=int(proc.resample),
            crop_height=crop.get("height"),
            crop_width=crop.get("width"),
            rescale_factor=float(proc.rescale_factor) if proc.do_rescale else None,
            mean=tuple(float(x) for x in proc.image_mean) if proc.do_normalize else None,
            std=tuple(float(x) for x in proc.image_std) if proc.do_normalize else None,
        )


def preprocess_image(image: Image.Image, p: ClipPreprocessing) -> np.ndarray:
    """One image → (3, H, W) float32, as CLIPImageProcessor makes it (bicubic resize, centre crop, normalise)."""
    image = _as_rgb(image)
    if p.resize_shortest_edge:
        width, height = image.size
        short, long = (width, height) if width <= height else (height, width)
        new_short, new_long = p.resize_shortest_edge, int(p.resize_shortest_edge * long / short)
        target = (new_short, new_long) if width <= height else (new_long, new_short)  # (w, h)
        image = image.resize(target, resample=p.resample)
    elif p.resize_height and p.resize_width:
        image = image.resize((p.resize_width, p.resize_height), resample=p.resample)
    pixels = np.asarray(image, dtype=np.uint8)
    if p.crop_height and p.crop_width:
        pixels = _center_crop(pixels, p.crop_height, p.crop_width)
    array = pixels.astype(np.float64) * p.rescale_factor if p.rescale_factor else pixels.astype(np.float64)
    array = array.astype(np.float32)
    if p.mean is not None and p.std is not None:
        array = (array - np.asarray(p.mean, dtype=np.float32)) / np.asarray(p.std, dtype=np.float32)
    return np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32)


def _center_crop(pixels: np.ndarray, crop_h: int, crop_w: int) -> np.ndarray:
    # Same arithmetic as transformers' center_crop, zero padding included for images smaller than the crop.
    height, width = pixels.shape[:2]
    if height < crop_h or width < crop_w:
        new_h, new_w = max(height, crop_h), max(width, crop_w)
        padded = np.zeros((new_h, new_w, pixels.shape[2]), dtype=pixels.dtype)
        top_pad, left_pad = -(-(new_h - height) // 2), -(-(new_w - width) // 2)
        padded[top_pad:top_pad + height, left_pad:left_pad + width] = pixels
        top, left = (height - crop_h) // 2 + top_pad, (width - crop_w) // 2 + left_pad
        return padded[max(0, top):min(new_h, top + crop_h), max(0, left):min(new_w, left + crop_w)]
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return pixels[top:top + crop_h, left:left + crop_w]


# --------------------------------------------------------------------------- export and cache


def onnx_cache_dir(settings: Settings) -> Path:
    """The folder holding this image model's exports: data_dir/onnx/<name>-<hash of the model's files>."""
    return settings.data_dir / "onnx" / f"{model_display_name(settings.image_model)}-{_model_fingerprint(settings.image_model)}"


def _model_fingerprint(name_or_path: str) -> str:
    digest = hashlib.sha256(f"export-v{EXPORT_VERSION}|opset{OPSET}".encode())
    path = Path(name_or_path).expanduser()
    if looks_like_path(name_or_path) and path.is_dir():
        # Small files by content, weights by size and modification time (hashing 600 MB at every start is slow).
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(file.relative_to(path)).encode())
            if file.suffix in (".json", ".txt"):
                digest.update(file.read_bytes())
            else:
                stat = file.stat()
                digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    else:
        digest.update(name_or_path.encode())  # a hub name: the name is all we know without loading it
    return digest.hexdigest()[:12]


def ensure_onnx_model(settings: Settings, quantize: str = "fp32") -> Path:
    """Path of the image model's ONNX export at `quantize` precision (fp32|int8), exporting it when missing."""
    if quantize not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {quantize!r}")
    folder = onnx_cache_dir(settings)
    target = folder / f"vision-{quantize}.onnx"
    if target.is_file() and (folder / "meta.json").is_file():
        return target
    with _SESSIONS_LOCK:
        if not (folder / "vision-fp32.onnx").is_file() or not (folder / "meta.json").is_file():
            _export_fp32(settings, folder)
        if quantize == "int8" and not target.is_file():
            _quantize_int8(folder / "vision-fp32.onnx", target)
    return target


def _export_fp32(settings: Settings, folder: Path) -> None:
    import torch

    model = load_sentence_transformer(settings.image_model, "cpu", "IMGSEARCH_IMAGE_MODEL")
    clip, processor = _clip_parts(model, settings.image_model)
    prep = ClipPreprocessing.from_image_processor(processor)
    height = prep.crop_height or prep.resize_height or prep.resize_shortest_edge
    width = prep.crop_width or prep.resize_width or prep.resize_shortest_edge

    class VisionTower(torch.nn.Module):
        def __init__(self, clip_model):
            super().__init__()
            self.clip = clip_model

        def forward(self, pixel_values):
            vision = self.clip.vision_model(pixel_values=pixel_values)
            return self.clip.visual_projection(vision.pooler_output)

    tower = VisionTower(clip).eval()
    dummy = torch.zeros(2, 3, height, width, dtype=torch.float32)
    with torch.inference_mode():
        dims = int(tower(dummy).shape[-1])
    tmp = folder.with_name(f"{folder.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    try:
        with torch.no_grad():
            torch.onnx.export(
                tower, (dummy,), str(tmp / "vision-fp32.onnx"), input_names=["pixel_values"],
                output_names=["image_embeds"], dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
                opset_version=OPSET, do_constant_folding=True, dynamo=False,
            )
        meta = {"model": settings.image_model, "dims": dims, "export_version": EXPORT_VERSION,
                "preprocessing": asdict(prep)}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _clip_parts(model, name: str):
    """The transformers CLIPModel and its image processor inside a sentence-transformers CLIP."""
    first = model[0]
    clip = getattr(first, "auto_model", None) or getattr(first, "model", None)
    processor = getattr(first, "processor", None)
    image_processor = getattr(processor, "image_processor", None)
    if clip is None or image_processor is None or not hasattr(clip, "vision_model") \
            or not hasattr(clip, "visual_projection"):
        raise EncoderUnavailable(f"{name!r} is not a CLIP model with a vision tower; the ONNX image backend "
                                 "needs one (e.g. clip-ViT-B-32). Use IMGSEARCH_IMAGE_BACKEND=torch otherwise.")
    return clip, image_processor


def _quantize_int8(fp32_path: Path, int8_path: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = int8_path.with_name(f"{int8_path.stem}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}.onnx")
    try:
        # Weights to int8 per output channel, activations quantised on the fly; only the matrix products,
        # which hold nearly all the work, are touched.
        quantize_dynamic(str(fp32_path), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"])
        tmp.rename(int8_path)
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- the encoder


class OnnxImageEncoder:
    """Image vectors from the ONNX export (fp32 or int8) on CPU; texts from the local text encoder."""

    def __init__(self, settings: Settings, text_encoder=None, quantize: str | None = None):
        self._settings = settings
        self._quantize = quantize or ("int8" if settings.image_backend == "onnx-int8" else "fp32")
        self._text_encoder = text_encoder
        self._batch_size = settings.batch_size
        self._session = None
        self._prep: ClipPreprocessing | None = None
        self._dims: int | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return model_display_name(self._settings.image_model)

    @property
    def precision(self) -> str:
        return self._quantize

    @property
    def dims(self) -> int:
        self._load()
        return int(self._dims)

    def preprocess(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Images → one (n, 3, H, W) float32 batch; pure CPU work that can run in decode threads."""
        self._load()
        return np.stack([preprocess_image(im, self._prep) for im in images])

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Unit-length float32 vectors, one row per image."""
        self._load()
        if not images:
            return np.zeros((0, self._dims), dtype=np.float32)
        out = []
        for start in range(0, len(images), self._batch_size):
            out.append(self.encode_pixels(self.preprocess(images[start:start + self._batch_size])))
        return np.concatenate(out)

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Preprocessed (n, 3, H, W) pixels → unit-length float32 vectors."""
        self._load()
        (raw,) = self._session.run(["image_embeds"], {"pixel_values": np.ascontiguousarray(pixels, np.float32)})
        return _normalise(raw)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if self._text_encoder is None:
            from es_search.encoders.local import LocalEncoder

            self._text_encoder = LocalEncoder(self._settings)
        vectors = self._text_encoder.encode_texts(texts)
        if vectors.shape[1] != self.dims:
            raise EncoderUnavailable(
                f"the text model {self._settings.text_model!r} makes {vectors.shape[1]}-d vectors but the image "
                f"model {self._settings.image_model!r} makes {self.dims}-d ones; they must share one space")
        return vectors

    def _load(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort

            path = ensure_onnx_model(self._settings, self._quantize)
            meta = json.loads((path.parent / "meta.json").read_text(encoding="utf-8"))
            prep = meta["preprocessing"]
            for key in ("mean", "std"):
                prep[key] = tuple(prep[key]) if prep[key] is not None else None
            options = ort.SessionOptions()
            options.intra_op_num_threads = _usable_cores()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            self._prep = ClipPreprocessing(**prep)
            self._dims = int(meta["dims"])
            # CPU only on purpose: this backend is for hosts without a GPU; with one, the torch backend is faster.
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = vectors.astype(np.float32, copy=False)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)
