"""Decoding: any file in, an upright RGB picture out, or one clear reason why not. No model, no cluster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from es_search.decode import (
    DECODE_REASONS,
    DecodeError,
    decode_bytes,
    decode_image,
    decode_upload,
    fit_working_size,
    parse_exif_datetime,
)
from es_search.encoders.transforms import to_rgb
from es_search.errors import FileFailure, UploadRejected
from tests.support.ingest_cases import (
    animated_gif,
    assert_rotated_jpeg_upright,
    cmyk_jpeg,
    corrupt_png,
    encode,
    gray16_png,
    jpeg,
    png,
    png_bomb,
    rotated_jpeg,
    scene,
    transparent_png,
    truncated,
)

LIMIT = 40_000_000
SIDE, LONG_SIDE = 224, 256


def decode(data: bytes, max_pixels: int = LIMIT):
    return decode_bytes(data, max_pixels=max_pixels, min_side=SIDE, min_long_side=LONG_SIDE)


def reason_for(data: bytes, max_pixels: int = LIMIT) -> str:
    with pytest.raises(DecodeError) as caught:
        decode(data, max_pixels)
    return caught.value.reason


def test_a_jpeg_comes_out_rgb_at_working_size_with_its_full_size_recorded():
    decoded = decode(jpeg(1, size=(1600, 1200)))
    assert decoded.image.mode == "RGB"
    # Decoded at 1/4 scale by the JPEG decoder itself (draft): 400 × 300, within 1.5× of 299 × 224.
    assert decoded.image.size == (400, 300)
    assert (decoded.width, decoded.height, decoded.format) == (1600, 1200, "JPEG")
    png_decoded = decode(png(1, (1600, 1200)))
    assert png_decoded.image.size == (299, 224)  # no draft for PNG: resized to the working size


def test_small_images_are_never_upscaled():
    decoded = decode(png(2, (120, 90)))
    assert decoded.image.size == (120, 90)


def test_exif_orientation_is_applied_and_the_capture_date_read():
    assert_rotated_jpeg_upright(decode(rotated_jpeg()))


def test_cmyk_becomes_rgb():
    decoded = decode(cmyk_jpeg())
    r, g, b = decoded.image.getpixel((10, 10))
    assert decoded.image.mode == "RGB"
    assert r < 40 and g > 215 and b > 215  # pure cyan


def test_16_bit_greyscale_is_scaled_not_clipped_to_white():
    decoded = decode(gray16_png())
    row = np.asarray(decoded.image)[10, :, 0]
    assert row[0] < 10 and row[-1] > 245
    assert 100 < row[len(row) // 2] < 155  # the middle of the ramp is mid-grey, not white


def test_transparency_is_laid_over_white():
    decoded = decode(transparent_png())
    assert decoded.image.getpixel((5, 5)) == (255, 255, 255)


def test_animations_give_their_first_frame():
    decoded = decode(animated_gif())
    r, g, b = decoded.image.getpixel((10, 10))
    assert r > 200 and g < 50 and b < 50


def test_every_mode_converts_to_rgb():
    for mode in ("1", "L", "P", "LA", "PA", "RGBA", "CMYK", "YCbCr", "LAB", "HSV", "I", "I;16", "F"):
        image = Image.new(mode, (4, 4))
        assert to_rgb(image).mode == "RGB", mode


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"these are my holiday notes, not a picture\n" * 20, "not_an_image"),
    (truncated(jpeg(3)), "truncated"),
    (truncated(png(4)), "truncated"),
    (corrupt_png(png(5, (400, 300))), "corrupt"),
    (png_bomb(30000, 30000), "too_many_pixels"),
], ids=["empty", "text", "truncated-jpeg", "truncated-png", "corrupt-png", "bomb"])
def test_broken_files_fail_with_a_reason(data, reason):
    assert reason_for(data) == reason


def test_the_pixel_limit_is_checked_before_decoding():
    # The header claims 6000 × 6000 but the file holds almost no data: refusing it costs no allocation.
    bomb = png_bomb(6000, 6000)
    assert reason_for(bomb, max_pixels=30_000_000) == "too_many_pixels"
    assert reason_for(encode(scene(1, (1100, 1000)), "PNG"), max_pixels=1_000_000) == "too_many_pixels"


def test_big_jpegs_are_judged_by_the_pixels_actually_decoded():
    # A 4000 × 3000 JPEG (12 Mpx) decodes at 1/8 scale thanks to draft(): well under a 1 Mpx limit.
    decoded = decode(jpeg(7, size=(4000, 3000)), max_pixels=1_000_000)
    assert (decoded.width, decoded.height) == (4000, 3000)
    assert decoded.image.size == (299, 224)  # decoded at 1/8 (500 × 375), then brought to the working size


def test_decode_image_reads_paths_and_uses_the_settings(tmp_path, base_settings):
    path = tmp_path / "x.jpg"
    path.write_bytes(jpeg(8))
    decoded = decode_image(jpeg(8, size=(1280, 960)), base_settings)
    assert 224 <= min(decoded.image.size) <= 1.5 * 224
    decoded = decode_image(path, base_settings)
    assert decoded.image.size == (320, 240)  # a 640 × 480 JPEG decodes at half scale, nothing more to do
    with pytest.raises(DecodeError) as caught:
        decode_image(tmp_path / "missing.jpg", base_settings)
    assert caught.value.reason == "unreadable"


def test_exif_dates_are_parsed_strictly():
    assert parse_exif_datetime("2020:01:02 03:04:05") == "2020-01-02T03:04:05"
    assert parse_exif_datetime(b"2020:01:02 03:04:05\x00") == "2020-01-02T03:04:05"
    assert parse_exif_datetime("0000:00:00 00:00:00") is None
    assert parse_exif_datetime(None) is None


def test_the_working_size_serves_the_model_and_the_thumbnail():
    # Shorter side 224 for the model, longer side at least 256 for the thumbnail; aspect kept.
    assert fit_working_size(Image.new("RGB", (2000, 1000)), 224, 256).size == (448, 224)
    assert fit_working_size(Image.new("RGB", (3000, 3000)), 224, 256).size == (256, 256)
    assert fit_working_size(Image.new("RGB", (4000, 1000)), 224, 256).size == (896, 224)
    # Close enough already (the model resizes anyway), or smaller: returned as it is, never upscaled.
    assert fit_working_size(Image.new("RGB", (320, 240)), 224, 256).size == (320, 240)
    assert fit_working_size(Image.new("RGB", (100, 50)), 224, 256).size == (100, 50)


@pytest.mark.parametrize("bomb, limit", [
    (png_bomb(30000, 30000), LIMIT),  # refused by Pillow itself when opening: over twice its own limit
    (png_bomb(6000, 6000), 30_000_000),  # refused by our check of the declared size
], ids=["pillow-refuses", "we-refuse"])
def test_the_pixel_limit_message_names_the_setting_and_its_value(bomb, limit):
    with pytest.raises(DecodeError) as caught:
        decode(bomb, limit)
    failure = caught.value
    assert failure.reason == "too_many_pixels" and failure.reason in DECODE_REASONS
    assert f"the limit (IMGSEARCH_MAX_IMAGE_PIXELS) is {limit:,}" in failure.message
    assert str(2 * Image.MAX_IMAGE_PIXELS) not in failure.message  # Pillow's built-in figure, which nobody set
    assert "pixels" in failure.message and isinstance(failure, FileFailure)


def test_a_setting_above_pillows_own_refusal_is_named_in_the_message():
    hard_limit = 2 * Image.MAX_IMAGE_PIXELS
    with pytest.raises(DecodeError) as caught:
        decode(png_bomb(30000, 30000), max_pixels=hard_limit * 2)
    assert "900,000,000 pixels" in caught.value.message
    assert f"IMGSEARCH_MAX_IMAGE_PIXELS) is {hard_limit * 2:,}" in caught.value.message
    assert f"Pillow refuses anything over {hard_limit:,} pixels" in caught.value.message


def test_an_upload_decodes_like_a_file(base_settings):
    image = decode_upload(jpeg(8, size=(1280, 960)), base_settings)
    assert image.mode == "RGB"
    assert image.size == decode_image(jpeg(8, size=(1280, 960)), base_settings).image.size
    assert decode_upload(transparent_png(), base_settings).getpixel((5, 5)) == (255, 255, 255)


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (truncated(jpeg(3)), "truncated"),
    (b"these are my holiday notes, not a picture\n" * 20, "not_an_image"),
    (png_bomb(30000, 30000), "too_many_pixels"),
], ids=["empty", "truncated", "text", "bomb"])
def test_a_bad_upload_is_rejected_with_the_decoders_reason(base_settings, data, reason):
    with pytest.raises(UploadRejected) as caught:
        decode_upload(data, base_settings)
    assert caught.value.reason == caught.value.code == reason
    assert caught.value.http_status == 400
    assert str(caught.value).startswith(f"cannot use the uploaded image ({reason}): ")


def test_an_upload_given_as_a_path_is_never_read(base_settings, tmp_path):
    path = tmp_path / "on-the-server.jpg"
    path.write_bytes(jpeg(9))  # a real image: reading it would succeed
    for data in (str(path), path):
        with pytest.raises(UploadRejected) as caught:
            decode_upload(data, base_settings)
        assert caught.value.reason == "unreadable"


def test_the_decoder_needs_nothing_from_the_ingest_package():
    code = "import sys, es_search.decode; print(sorted(m for m in sys.modules if m.split('.')[0] == 'ingest'))"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == "[]"
