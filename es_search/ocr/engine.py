"""Reading the text inside an image: PP-OCRv4 (Chinese and English) through rapidocr-onnxruntime.

Why this engine: its wheel carries the detection, angle and recognition models (about 15 MB), so nothing is
downloaded at run time; one recogniser reads Simplified Chinese and Latin text together; and it runs on
ONNX Runtime, which the project already uses. Tesseract reads Chinese and English too, from Debian's
trained data, but needs a system binary and per-script models (docs/ocr.md says why this one).

Two steps, so that photos without text cost little:
- `has_text(image)`, the gate, on the small working image the ingest decoded anyway: its edges first (no
  strong edges, no text: a fraction of a millisecond), then the detection network alone at GATE_SIDE, one
  cheap pass whose probability map says whether any text is there;
- `read(image)`: detection at READ_SIDE, the angle classifier and the recogniser, for the images the gate
  let through.

One engine serves a process (`shared_engine()`): ONNX Runtime sessions may run from several threads at
once, so the ingest's OCR pool and the web workers' threads share its models, loaded once; each session
uses one intra-op thread, so the reader never oversubscribes the cores the image encoder needs.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
from PIL import Image

from es_search.decode import DecodeError, decode_bytes
from es_search.errors import ConfigError
from es_search.ocr.lines import OcrLine, joined_text, lines_from_result

log = logging.getLogger(__name__)

# Before it, a look at the working image's local contrast: printed text is strokes, and strokes make strong
# edges. With fewer than this share of pixels on an edge of GATE_EDGE_CONTRAST grey levels (a 3 × 3
# morphological gradient), there is no text to find and the detector is not run: smooth photos (a product
# on a plain background, sky, studio portraits) cost a fraction of a millisecond. The drawn images with text
# all had 0.028 or more; textured photos (foliage, gravel, crowds) go on to the detector.
GATE_EDGE_CONTRAST = 60
GATE_MIN_EDGES = 0.015
# The gate's detection pass works on the working image with its shorter side at this many pixels: 192 let
# through every image of the generated collection (160: 0.96, 128: 0.75) for about 14 ms of one core.
GATE_SIDE = 192
# A map pixel is text-like above this probability (the detector's own binarisation threshold) ...
GATE_PIXEL_THRESHOLD = 0.3
# ... and an image holds text when at least this many of them sit together, with this mean probability.
GATE_MIN_PIXELS = 12
GATE_MIN_SCORE = 0.55
# Recognition detects at this longest side (no upscaling): enough for 12-px type on a 1280-px photo.
READ_SIDE = 1280
ENGINE_NAME = "PP-OCRv4 (rapidocr-onnxruntime)"
INSTALL_HINT = "install it with `make setup-ocr` (rapidocr-onnxruntime, whose wheel holds the PP-OCRv4 models)"


def ocr_available() -> bool:
    try:
        import rapidocr_onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class OcrEngine:
    """The gate and the reader; safe to share between threads (rapidocr is called without per-call options,
    which it would store on itself)."""

    def __init__(self, read_side: int = READ_SIDE, threads: int = 1):
        if not ocr_available():
            raise ConfigError(f"text inside images (IMGSEARCH_OCR) needs rapidocr-onnxruntime: {INSTALL_HINT}")
        self.read_side, self.threads = read_side, threads
        self._lock = threading.Lock()
        self._rapid = None

    def _engine(self):
        if self._rapid is None:
            with self._lock:
                if self._rapid is None:
                    from rapidocr_onnxruntime import RapidOCR

                    self._rapid = RapidOCR(intra_op_num_threads=self.threads, inter_op_num_threads=1,
                                           det_limit_type="max", det_limit_side_len=self.read_side)
        return self._rapid

    def load(self) -> None:
        """Load the models now (the first image then costs no more than the others)."""
        self._engine()

    def text_map(self, image: Image.Image) -> np.ndarray:
        """The detector's text probability map of `image` with its shorter side at GATE_SIDE."""
        width, height = image.size
        scale = GATE_SIDE / min(width, height)
        # Multiples of 32, as the network needs, and never more than 4 × GATE_SIDE on the long side.
        w = max(32, min(4 * GATE_SIDE, round(width * scale / 32) * 32))
        h = max(32, min(4 * GATE_SIDE, round(height * scale / 32) * 32))
        small = np.asarray(image.convert("RGB").resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32)
        # The detector's own normalisation: (x / 255 − 0.5) / 0.5, channels first, BGR as it was trained.
        tensor = ((small[:, :, ::-1] / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)[None].astype(np.float32)
        return self._engine().text_det.infer(tensor)[0][0, 0]

    def has_text(self, image: Image.Image) -> bool:
        """The gate: whether `image` (the working image) has edges enough for text, and then shows anything
        the detector takes for text."""
        return edge_share(image) >= GATE_MIN_EDGES and map_has_text(self.text_map(image))

    def read_file(self, working: Image.Image, data: bytes | None, max_pixels: int, *,
                  gate: bool = True) -> list[OcrLine] | None:
        """An image's lines as the ingest and image search read them: the gate on the working image (None when
        it finds no text), then the reader on the file's bytes decoded at READ_SIDE (the working image, too
        small for small type, only when there are no bytes). DecodeError for bytes that do not decode."""
        if gate and not self.has_text(working):
            return None
        image = working if data is None else decode_bytes(data, max_pixels=max_pixels, min_side=0,
                                                          min_long_side=self.read_side).image
        return self.read(image)

    def read(self, image: Image.Image) -> list[OcrLine]:
        """The lines of text in `image`, in reading order, with boxes relative to it."""
        rgb = image.convert("RGB")
        scale = min(1.0, self.read_side / max(rgb.size))
        if scale < 1.0:
            rgb = rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))),
                             Image.Resampling.LANCZOS)
        bgr = np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])
        result, _ = self._engine()(bgr)
        return lines_from_result(result, rgb.width, rgb.height)


_shared: OcrEngine | None = None
_shared_lock = threading.Lock()


def shared_engine() -> OcrEngine:
    """The process's engine, its models loaded once (on first use) for every run and request."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = OcrEngine()
        return _shared


class QueryTextReader:
    """The text a query image shows (image search), read as the ingest reads it: the gate on the working
    image, then the reader on the bytes decoded at READ_SIDE. A failure reads nothing: the search goes on by
    the image's vector alone."""

    def __init__(self, engine: OcrEngine | None = None):
        self.engine = engine or shared_engine()

    def read_text(self, data: bytes, working: Image.Image, max_pixels: int) -> str:
        try:
            return joined_text(self.engine.read_file(working, data, max_pixels) or [])
        except DecodeError:
            return ""
        except Exception as exc:  # the model's failure costs the text, never the search
            log.warning("reading the query image's text failed: %s: %s", type(exc).__name__, exc)
            return ""


def edge_share(image: Image.Image) -> float:
    """The share of pixels on a strong local edge (max − min of their 3 × 3 neighbourhood, in grey levels,
    above GATE_EDGE_CONTRAST)."""
    import cv2  # rapidocr's own dependency (opencv-python-headless): there whenever the gate can run

    grey = np.asarray(image.convert("L"))
    gradient = cv2.morphologyEx(grey, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    return float((gradient > GATE_EDGE_CONTRAST).mean())


def map_has_text(probability: np.ndarray) -> bool:
    """Pure: whether a text probability map holds a region of text (GATE_MIN_PIXELS pixels over the
    threshold, with a mean probability of GATE_MIN_SCORE); one isolated bright pixel is texture."""
    mask = probability > GATE_PIXEL_THRESHOLD
    if int(mask.sum()) < GATE_MIN_PIXELS:
        return False
    return float(probability[mask].mean()) >= GATE_MIN_SCORE
