"""Encoders that run sentence-transformers models in this process (PyTorch, CPU or GPU).

Images go through `settings.image_model` (a CLIP), texts through `settings.text_model` (the multilingual
text tower trained into CLIP's space). Models load on first use, once per process (see `loading.py`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from es_search.config import Settings
from es_search.encoders.base import EncoderUnavailable, EncoderUnsupported
from es_search.encoders.transforms import ClipPreprocessing, preprocess_image
from es_search.model_loading import (
    clip_parts,
    embedding_dimension,
    load_sentence_transformer,
    loaded_model,
    model_display_name,
    quantized_int8,
    resolve_device,
)
from es_search.vectors import l2_normalise


def half_precision(device: str, precision: str) -> bool:
    """Whether the image model runs in float16 (autocast): on a CUDA device unless IMGSEARCH_GPU_PRECISION is
    fp32. Half the memory traffic and the GPU's tensor cores; cosines move by about 1e-3."""
    return precision == "fp16" and device.startswith("cuda")


class LocalEncoder:
    """CLIP image vectors and multilingual text vectors from local sentence-transformers models."""

    def __init__(self, settings: Settings):
        self._image_model_name = settings.image_model
        self._text_model_name = settings.text_model
        self._device_setting = settings.device
        self._batch_size = settings.batch_size
        self._text_max_length = settings.text_max_length
        self._text_quantize = settings.text_quantize
        self._text_runtime = settings.text_runtime
        self._settings = settings
        self._device: str | None = None
        self._clip = None

    # ----------------------------------------------------------------- Encoder protocol

    @property
    def name(self) -> str:
        return model_display_name(self._image_model_name)

    @property
    def text_name(self) -> str:
        return model_display_name(self._text_model_name)

    @property
    def device(self) -> str:
        if self._device is None:
            self._device = resolve_device(self._device_setting)
        return self._device

    @property
    def dims(self) -> int:
        return embedding_dimension(self._image_model())

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Unit-length float32 vectors, one row per image: `preprocess` then `encode_pixels`, `batch_size` at a
        time. Our own preprocessing, not the image processor's, which takes a tiny (1 × 1) picture's colour
        axis for its rows."""
        if not images:
            return np.zeros((0, self.dims), dtype=np.float32)
        size = self._batch_size
        return np.concatenate([self.encode_pixels(self.preprocess(images[start:start + size]))
                               for start in range(0, len(images), size)])

    def preprocess(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Images → one (n, 3, H, W) float32 batch, as CLIP's image processor makes it (resize, centre crop,
        normalise). Pure CPU work that callers may run in other threads, then hand to `encode_pixels`."""
        prep = self._clip_parts()[1]
        return np.stack([preprocess_image(im, prep) for im in images])

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Preprocessed (n, 3, H, W) pixels → unit-length float32 vectors, the same as `encode_images` gives."""
        import torch

        clip = self._clip_parts()[0]
        batch = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))
        half = half_precision(self.device, self._settings.gpu_precision)
        if self.device.startswith("cuda"):
            # Page-locked memory: the copy to the GPU runs by DMA, without a staging copy of its own.
            batch = batch.pin_memory().to(self.device, non_blocking=True)
        else:
            batch = batch.to(self.device)
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=half):
            # What sentence-transformers' CLIP module runs for images: the vision tower's pooled output, projected.
            features = clip.visual_projection(clip.vision_model(pixel_values=batch).pooler_output)
        return l2_normalise(features.float().cpu().numpy())

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in the image vectors' space."""
        if self._text_runtime == "onnx" and self.device == "cpu":
            return self._onnx_text_model().encode([str(t) for t in texts], self._batch_size)
        model = self._text_model()
        if not texts:
            return np.zeros((0, embedding_dimension(model)), dtype=np.float32)
        return self._encode(model, [str(t) for t in texts])

    # ----------------------------------------------------------------- loading

    def _image_model(self):
        model = load_sentence_transformer(self._image_model_name, self.device, "IMGSEARCH_IMAGE_MODEL")
        if "image" not in getattr(model, "modalities", ["image"]):
            raise EncoderUnsupported(f"{self._image_model_name!r} (IMGSEARCH_IMAGE_MODEL) cannot encode images; "
                                     "it must be a CLIP model such as clip-ViT-B-32")
        return model

    def _clip_parts(self):
        """(transformers CLIPModel, ClipPreprocessing) of the image model, looked up once."""
        if self._clip is None:
            clip, image_processor = clip_parts(self._image_model(), self._image_model_name)
            self._clip = (clip, ClipPreprocessing.from_image_processor(image_processor))
        return self._clip

    def _text_model(self):
        model = load_sentence_transformer(self._text_model_name, self.device, "IMGSEARCH_TEXT_MODEL")
        text_dims = embedding_dimension(model)
        # Compared only once the image model is loaded: an ONNX image encoder uses this one for texts alone.
        image_model = loaded_model(self._image_model_name, self.device)
        if image_model is not None and text_dims != embedding_dimension(image_model):
            raise EncoderUnavailable(text_space_mismatch(self._text_model_name, text_dims, self._image_model_name,
                                                         embedding_dimension(image_model)))
        limit = model.max_seq_length
        if limit is None or limit > self._text_max_length:
            model.max_seq_length = self._text_max_length
        if self._text_quantize == "int8" and self.device == "cpu":
            return quantized_int8(model, self._text_model_name)
        return model

    def _onnx_text_model(self):
        from es_search.encoders.onnx_text import load_onnx_text_model

        runner = load_onnx_text_model(self._settings, "int8" if self._text_quantize == "int8" else "fp32")
        image_model = loaded_model(self._image_model_name, self.device)
        if image_model is not None and runner.dims != embedding_dimension(image_model):
            raise EncoderUnavailable(text_space_mismatch(self._text_model_name, runner.dims, self._image_model_name,
                                                         embedding_dimension(image_model)))
        return runner

    def _encode(self, model, inputs: list) -> np.ndarray:
        import torch

        with torch.inference_mode():
            vectors = model.encode(inputs, batch_size=self._batch_size, convert_to_numpy=True,
                                   normalize_embeddings=False, show_progress_bar=False)
        return l2_normalise(vectors)


def text_space_mismatch(text_model: str, text_dims: int, image_model: str, image_dims: int) -> str:
    return (f"the text model {text_model!r} makes {text_dims}-d vectors but the image model {image_model!r} "
            f"makes {image_dims}-d ones; pick a text model trained into that CLIP's space")
