"""Image decoding for the ingest and the upload search: bytes → an upright RGB image at working size, plus what
the file says about itself (format, full size, capture date).

Every failure becomes a `DecodeError` with a reason code of `DECODE_REASONS`; no input can crash the caller.
Huge images are refused from their declared size before any pixel is decoded (IMGSEARCH_MAX_IMAGE_PIXELS),
and JPEGs are decoded near the size we need. It lives in the core because both the ingest and the web
app's upload search take untrusted bytes and must refuse them the same way.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from es_search.config import Settings
from es_search.device_decode import DeviceDecodeFailed, DeviceJpegDecoder
from es_search.encoders.transforms import UnsupportedMode, to_rgb
from es_search.errors import FileFailure, UploadRejected

# We enforce our own pixel limit below; Pillow's warning at 89 Mpx would only be noise.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

# CLIP models look at 224 px (shorter side); thumbnails want `thumbnail_size` (longer side). The working
# image keeps at least that much, and is only resized when it is well over: the model resizes anyway.
MODEL_INPUT_SIDE = 224
RESIZE_ABOVE = 1.5

EXIF_ORIENTATION = 0x0112
EXIF_DATETIME = 0x0132
EXIF_IFD = 0x8769
EXIF_DATETIME_ORIGINAL = 0x9003
# Orientations 5–8 turn the picture a quarter, so width and height swap.
QUARTER_TURNS = {5, 6, 7, 8}
# What each EXIF orientation asks for to show the picture upright (1: nothing).
ORIENTATION_TRANSPOSE = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                         4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
                         6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}

# Every reason a DecodeError can carry; the ingest report and the upload error use the same codes.
DECODE_REASONS = ("empty", "unreadable", "not_an_image", "unsupported_format", "too_many_pixels", "truncated",
                  "corrupt", "not_dicom", "no_pixel_data", "unsupported_transfer_syntax")


class DecodeError(FileFailure):
    """The bytes cannot be turned into an image; `reason` is one of DECODE_REASONS."""


@dataclass
class DecodedImage:
    """An upright RGB image at working size: shorter side ≥ `min_side` and longer side ≥ `min_long_side` when the
    original is that big, at most 1.5 times that (never upscaled).

    `width` and `height` are the full-size upright dimensions; `format` is Pillow's name (JPEG, PNG...).
    """

    image: Image.Image
    format: str
    width: int
    height: int
    taken_at: str | None = None
    fields: dict = field(default_factory=dict)  # a DICOM file's fields (es_search/dicom/tags.py)
    burned_in: bool = False  # a DICOM file says its pixels hold burned-in annotations (patient data, maybe)


def working_size(settings: Settings) -> tuple[int, int]:
    """(shorter side, longer side) the working image keeps: enough for the model and for a sharp thumbnail."""
    return MODEL_INPUT_SIDE, settings.thumbnail_size


def decode_image(data: bytes | Path | str, settings: Settings) -> DecodedImage:
    """Decode file bytes (or a file path) with the limits from settings; raises DecodeError."""
    if isinstance(data, (str, Path)):
        try:
            data = Path(data).read_bytes()
        except OSError as exc:
            raise DecodeError("unreadable", exc.strerror or str(exc)) from None
    min_side, min_long_side = working_size(settings)
    return decode_bytes(data, max_pixels=settings.max_image_pixels, min_side=min_side, min_long_side=min_long_side)


def decode_bytes(data: bytes, max_pixels: int, min_side: int = MODEL_INPUT_SIDE,
                 min_long_side: int = 0, dicom_secret: str | None = None,
                 jpeg_decoder: DeviceJpegDecoder | None = None) -> DecodedImage:
    """Pure: bytes → DecodedImage, or DecodeError with reason empty / not_an_image / too_many_pixels /
    truncated / corrupt / unsupported_format (and for DICOM no_pixel_data / unsupported_transfer_syntax).
    A DICOM file (es_search/dicom) brings its whitelisted tags as `fields`; `dicom_secret` keys its patient
    pseudonym. `jpeg_decoder` (es_search/device_decode.py) decodes JPEG pixels on a GPU; Pillow still reads
    the header and makes every check, and decodes what that decoder cannot."""
    if not data:
        raise DecodeError("empty", "the file has no bytes")
    from es_search.dicom.decode import is_dicom

    if is_dicom(data):
        return _decode_dicom(data, max_pixels, min_side, min_long_side, dicom_secret)
    try:
        return _decode(data, max_pixels, min_side, min_long_side, jpeg_decoder)
    except DecodeError:
        raise
    except Image.DecompressionBombError as exc:
        raise DecodeError("too_many_pixels", _pillow_bomb_message(exc, max_pixels)) from None
    except UnidentifiedImageError:
        raise DecodeError("not_an_image", "not an image in any format Pillow knows") from None
    except MemoryError:
        raise DecodeError("too_many_pixels", "not enough memory to decode it") from None
    except (OSError, SyntaxError, ValueError, TypeError, IndexError, KeyError, EOFError, ZeroDivisionError,
            RuntimeError, AttributeError) as exc:
        # Pillow's plugins raise all of these for damaged data; the message tells truncation apart.
        raise DecodeError(*_classify(exc)) from None
    except Exception as exc:  # a decoder bug on one file must not end a run of thousands
        raise DecodeError("corrupt", f"{type(exc).__name__}: {exc}") from None


def _decode(data: bytes, max_pixels: int, min_side: int, min_long_side: int,
            jpeg_decoder: DeviceJpegDecoder | None = None) -> DecodedImage:
    im = Image.open(io.BytesIO(data))
    file_format = im.format or "unknown"
    full_width, full_height = im.size
    if full_width < 1 or full_height < 1:
        raise DecodeError("corrupt", f"declared size {full_width}x{full_height}")
    if file_format == "JPEG" and jpeg_decoder is not None:
        decoded = _decode_on_device(im, data, jpeg_decoder, max_pixels, min_side, min_long_side)
        if decoded is not None:
            return decoded
    if file_format == "JPEG":
        # The JPEG decoder can scale by 1/2, 1/4 or 1/8 while decoding: far less work and memory.
        scale = working_scale(full_width, full_height, min_side, min_long_side)
        im.draft("RGB", (math.ceil(full_width * scale), math.ceil(full_height * scale)))
    # The limit guards memory, so it applies to the pixels that will really be decoded.
    if im.size[0] * im.size[1] > max_pixels:
        raise _too_many_pixels(full_width, full_height, max_pixels)
    im.load()  # first frame only for animations: we never seek
    # EXIF only after load: for PNG, reading it may load the pixels, and a failure there must not be swallowed.
    exif = _read_exif(im)
    orientation = _orientation(exif)
    try:
        rgb = to_rgb(_upright(im, orientation))
    except UnsupportedMode as exc:
        raise DecodeError("unsupported_format", str(exc)) from None
    rgb = fit_working_size(rgb, min_side, min_long_side)
    width, height = _upright_size(full_width, full_height, orientation)
    return DecodedImage(image=rgb, format=file_format, width=width, height=height, taken_at=_taken_at(exif))


def _decode_on_device(im: Image.Image, data: bytes, decoder: DeviceJpegDecoder, max_pixels: int, min_side: int,
                      min_long_side: int) -> DecodedImage | None:
    """A JPEG's pixels from the device decoder, straight at working size; Pillow read the header. The limit
    applies to the full size, which the device decodes. None when the decoder cannot take the file: Pillow
    then decodes it, and says what is wrong with it."""
    width, height = im.size
    if width * height > max_pixels:
        raise _too_many_pixels(width, height, max_pixels)
    try:
        rgb = decoder.decode(data, working_dimensions(width, height, min_side, min_long_side))
    except DeviceDecodeFailed:
        return None
    exif = _read_exif(im)  # a JPEG's EXIF is in its header: nothing more is decoded for it
    orientation = _orientation(exif)
    upright_width, upright_height = _upright_size(width, height, orientation)
    return DecodedImage(image=_upright(rgb, orientation), format="JPEG", width=upright_width, height=upright_height,
                        taken_at=_taken_at(exif))


def _orientation(exif) -> int:
    """The EXIF orientation, 1 (upright) when absent or unreadable."""
    value = exif.get(EXIF_ORIENTATION, 1) if exif is not None else 1
    return value if value in ORIENTATION_TRANSPOSE else 1


def _upright(im: Image.Image, orientation: int) -> Image.Image:
    """The picture as its EXIF orientation says it was seen."""
    method = ORIENTATION_TRANSPOSE.get(orientation)
    return im if method is None else im.transpose(method)


def _upright_size(width: int, height: int, orientation: int) -> tuple[int, int]:
    return (height, width) if orientation in QUARTER_TURNS else (width, height)


def _decode_dicom(data: bytes, max_pixels: int, min_side: int, min_long_side: int,
                  secret: str | None) -> DecodedImage:
    from es_search.dicom.decode import DicomError, decode_dicom, dicom_available

    if not dicom_available():
        raise DecodeError("unsupported_format", "a DICOM file: reading DICOM needs pydicom (make setup-dicom)")
    try:
        found = decode_dicom(data, max_pixels=max_pixels, secret=secret)
    except DicomError as exc:
        raise DecodeError(exc.reason, exc.message) from None
    rgb = fit_working_size(found.image, min_side, min_long_side)
    return DecodedImage(image=rgb, format="DICOM", width=found.width, height=found.height, fields=found.fields,
                        burned_in=found.burned_in)


def working_scale(width: int, height: int, min_side: int, min_long_side: int = 0) -> float:
    """The factor (≤ 1) that brings the shorter side to `min_side` and the longer to at least `min_long_side`."""
    return min(1.0, max(min_side / min(width, height), min_long_side / max(width, height)))


def working_dimensions(width: int, height: int, min_side: int, min_long_side: int = 0) -> tuple[int, int]:
    """Pure: the working image's (width, height) for a picture of that size: scaled down to the working size
    when it is over 1.5 times it, else as it is."""
    scale = working_scale(width, height, min_side, min_long_side)
    if scale * RESIZE_ABOVE >= 1.0:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def fit_working_size(im: Image.Image, min_side: int, min_long_side: int = 0) -> Image.Image:
    """Downscale to the working size (aspect kept) when the image is over 1.5 times it; else return it as is."""
    size = working_dimensions(im.size[0], im.size[1], min_side, min_long_side)
    if size == im.size:
        return im
    # reducing_gap: a cheap box reduction first, then a good filter for the last step.
    return im.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)


def _read_exif(im: Image.Image):
    try:
        return im.getexif()
    except Exception:  # damaged EXIF must not cost the picture
        return None


def _taken_at(exif) -> str | None:
    """EXIF DateTimeOriginal (else DateTime) as an ISO date-time, or None when absent or malformed."""
    if exif is None:
        return None
    try:
        raw = exif.get_ifd(EXIF_IFD).get(EXIF_DATETIME_ORIGINAL) or exif.get(EXIF_DATETIME)
    except Exception:
        return None
    return parse_exif_datetime(raw)


def parse_exif_datetime(raw) -> str | None:
    """'2021:07:04 18:30:00' → '2021-07-04T18:30:00'; anything unparseable → None."""
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "ignore")
    if not isinstance(raw, str):
        return None
    text = raw.strip().rstrip("\x00")[:19]
    try:
        return datetime.strptime(text, "%Y:%m:%d %H:%M:%S").isoformat()
    except ValueError:
        return None


def _classify(exc: Exception) -> tuple[str, str]:
    message = str(exc) or type(exc).__name__
    lowered = message.lower()
    if "truncated" in lowered or isinstance(exc, EOFError):
        return "truncated", message
    if "decoder" in lowered and "not available" in lowered:
        return "unsupported_format", message
    return "corrupt", message


def _too_many_pixels(width: int, height: int, max_pixels: int) -> DecodeError:
    return DecodeError("too_many_pixels", f"{width}x{height} is {width * height:,} pixels; {_limit_text(max_pixels)}")


def _limit_text(max_pixels: int) -> str:
    return f"the limit (IMGSEARCH_MAX_IMAGE_PIXELS) is {max_pixels:,}"


def _pillow_bomb_message(exc: Image.DecompressionBombError, max_pixels: int) -> str:
    """Pillow's own refusal (from the header, at over twice `Image.MAX_IMAGE_PIXELS`) told in our setting's terms.

    Pillow's message quotes its built-in limit, which the user never set and cannot find in our docs.
    """
    found = re.search(r"\((\d+) pixels\)", str(exc))
    size = f"{int(found.group(1)):,} pixels" if found else "more pixels than Pillow accepts"
    message = f"{size}; {_limit_text(max_pixels)}"
    hard_limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
    if hard_limit and max_pixels > hard_limit:
        message += f", but Pillow refuses anything over {hard_limit:,} pixels whatever the setting"
    return message


def decode_upload(data: bytes, settings: Settings, long_side: int | None = None) -> Image.Image:
    """Decode uploaded bytes the way the ingest decodes files (pixel limit before decoding, EXIF orientation, RGB).

    Returns the working-size PIL image, or with `long_side` one whose longer side is at least that (when the
    original is that big: a face detector's size). Any failure is an UploadRejected whose code is the
    decoder's reason. Only bytes are taken: a string would be read as a path on this host.
    """
    if not isinstance(data, bytes):
        raise UploadRejected("unreadable", "the upload must be the image's bytes")
    try:
        if long_side is not None:
            return decode_bytes(data, max_pixels=settings.max_image_pixels, min_side=0, min_long_side=long_side).image
        return decode_image(data, settings).image
    except DecodeError as exc:
        raise UploadRejected(exc.reason, f"cannot use the uploaded image ({exc.reason}): {exc.message}") from None
