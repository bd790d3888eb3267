"""DICOM pixels to an 8-bit image (pydicom, with pylibjpeg's decoders for compressed transfer syntaxes).

- Greyscale: the modality LUT (rescale slope and intercept), then the VOI window the file stores (its VOI LUT,
  else its first Window Center/Width); without one, a default window for CT (soft tissue: 40/400 HU) or the
  0.5–99.5 percentiles of the pixels; MONOCHROME1 is inverted (its 0 is white).
- Colour: RGB as it is, YBR converted to RGB by pydicom, PALETTE COLOR through its palette; more than 8 bits
  scaled down.
- A multi-frame file gives one image, its middle frame: in a cine loop or a volume the middle is the most
  likely to show the subject, and one document per file keeps a file's identity (its hash) its document's.
  `dicom_frames` says how many frames the file holds.
A file without pixel data is `no_pixel_data`; a transfer syntax no installed decoder reads is
`unsupported_transfer_syntax`; a file that breaks off is `truncated`; other damage `corrupt`.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from es_search.dicom.tags import patient_key, tag_fields

PREAMBLE_MAGIC = b"DICM"  # at byte 128 of a DICOM Part 10 file
DICOM_EXTENSIONS = frozenset({".dcm", ".dicom"})
CT_WINDOW = (40.0, 400.0)


class DicomError(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason, self.message = reason, message


@dataclass
class DicomImage:
    image: Image.Image  # RGB
    width: int
    height: int
    fields: dict = field(default_factory=dict)  # whitelisted tags (es_search/dicom/tags.py) and patient_key
    burned_in: bool = False


def is_dicom_name(path: str) -> bool:
    return os.path.splitext(path or "")[1].lower() in DICOM_EXTENSIONS


def is_dicom(data: bytes) -> bool:
    return len(data) >= 132 and data[128:132] == PREAMBLE_MAGIC


def dicom_available() -> bool:
    try:
        import pydicom  # noqa: F401
    except ImportError:
        return False
    return True


def decode_dicom(data: bytes, *, max_pixels: int, secret: str | None = None) -> DicomImage:
    """Pure: a DICOM file's bytes → an RGB image with its fields; DicomError with a reason otherwise."""
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.pixels import pixel_array

    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=False)
    except InvalidDicomError as exc:
        raise DicomError("not_dicom", f"not a DICOM file: {_short(exc)}") from None
    except (EOFError, OSError, ValueError, struct_error()) as exc:
        raise DicomError("truncated", f"the DICOM file breaks off or is damaged ({type(exc).__name__})") from None
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise DicomError("no_pixel_data", "the DICOM file holds no image (a report, a plan, a waveform...)")
    rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if rows * columns > max_pixels:
        raise DicomError("too_many_pixels", f"{columns}x{rows} frames are over the pixel limit")
    try:
        # Only the frame shown is decoded: a 30-frame ultrasound loop costs one frame, not thirty.
        pixels = ds.pixel_array if frames == 1 else pixel_array(ds, index=frames // 2)
    except NotImplementedError:
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        name = getattr(syntax, "name", None) or str(syntax)
        raise DicomError("unsupported_transfer_syntax", f"no installed decoder reads the transfer syntax {name}") \
            from None
    except (EOFError, ValueError, struct_error()) as exc:
        raise DicomError("truncated", f"the pixel data cannot be read ({type(exc).__name__}: the file may be "
                                      "truncated)") from None
    except Exception as exc:  # a decoder failing on one file must not end a run
        raise DicomError("corrupt", f"the pixel data cannot be decoded ({type(exc).__name__})") from None
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    image = Image.fromarray(_to_rgb8(pixels, ds, samples))
    fields = tag_fields(ds)
    fields["dicom_frames"] = frames
    key = patient_key(ds, secret)
    if key:
        fields["patient_key"] = key
    return DicomImage(image, image.width, image.height, fields, bool(fields.get("burned_in")))


def _to_rgb8(pixels: np.ndarray, ds, samples: int) -> np.ndarray:
    from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut

    photometric = str(ds.get("PhotometricInterpretation", "")).upper()
    if photometric == "PALETTE COLOR":
        return _scale_colour(apply_color_lut(pixels, ds))
    if samples > 1:
        return _scale_colour(pixels)
    values = apply_modality_lut(pixels, ds).astype(np.float64)
    if "VOILUTSequence" in ds or "WindowCenter" in ds:
        shown = apply_voi_lut(values, ds, index=0).astype(np.float64)
        low, high = float(shown.min()), float(shown.max())
    elif str(ds.get("Modality", "")).upper() == "CT":
        centre, width = CT_WINDOW
        shown, low, high = values, centre - width / 2, centre + width / 2
    else:
        shown = values
        low, high = (float(v) for v in np.percentile(values, (0.5, 99.5)))
    grey = np.clip((shown - low) / max(high - low, 1e-9), 0, 1)
    if photometric == "MONOCHROME1":
        grey = 1.0 - grey
    grey8 = (grey * 255 + 0.5).astype(np.uint8)
    return np.stack([grey8] * 3, axis=-1)


def _scale_colour(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels[..., :3]
    top = float(pixels.max()) or 1.0
    return (np.clip(pixels.astype(np.float64) / top, 0, 1) * 255 + 0.5).astype(np.uint8)[..., :3]


def struct_error():
    import struct

    return struct.error


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
