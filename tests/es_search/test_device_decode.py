"""JPEGs decoded by torchvision in batches (nvJPEG on a GPU; here its CPU decoder runs the same code), with
Pillow still reading the header and making every check. No model, no cluster."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from es_search.config import Settings
from es_search.decode import DecodeError, decode_bytes
from es_search.device_decode import DeviceJpegDecoder, ends_complete, jpeg_decoder_for
from es_search.encoders.local import half_precision
from es_search.errors import ConfigError
from tests.support.ingest_cases import (
    assert_rotated_jpeg_upright,
    cmyk_jpeg,
    jpeg,
    png,
    rotated_jpeg,
    truncated,
)

pytest.importorskip("torchvision")

LIMIT = 40_000_000
SIDE, LONG_SIDE = 224, 256


@pytest.fixture(scope="module")
def decoder():
    device_decoder = DeviceJpegDecoder("cpu", gather_seconds=0.05)
    yield device_decoder
    device_decoder.close()


def decode(data: bytes, decoder, max_pixels: int = LIMIT):
    return decode_bytes(data, max_pixels=max_pixels, min_side=SIDE, min_long_side=LONG_SIDE, jpeg_decoder=decoder)


def test_a_jpeg_comes_out_at_working_size_and_like_pillows_picture(decoder):
    data = jpeg(1, size=(1600, 1200))
    calls = decoder.calls
    on_device = decode(data, decoder)
    assert decoder.calls == calls + 1
    assert on_device.image.mode == "RGB"
    assert on_device.image.size == (299, 224)  # straight to the working size: the full size is never copied back
    assert (on_device.width, on_device.height, on_device.format) == (1600, 1200, "JPEG")
    by_pillow = decode(data, None).image.resize(on_device.image.size)
    difference = np.abs(np.asarray(on_device.image, np.int16) - np.asarray(by_pillow, np.int16)).mean()
    assert difference < 3, difference  # the same picture; the filters differ by a grey level or so


def test_exif_orientation_and_date_are_read_from_the_header_and_applied(decoder):
    assert_rotated_jpeg_upright(decode(rotated_jpeg(), decoder))


def test_images_handed_in_together_are_decoded_in_one_call(decoder):
    files = [jpeg(seed, size=(320, 240)) for seed in range(8)]
    results: dict[int, tuple] = {}
    calls = decoder.calls

    def work(i: int) -> None:
        results[i] = decode(files[i], decoder).image.size

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(files))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {i: (320, 240) for i in range(len(files))}  # under 1.5 × the working size: kept
    assert decoder.calls - calls < len(files)  # gathered into batches


def test_a_truncated_jpeg_is_left_to_pillow_and_reported_truncated(decoder):
    data = truncated(jpeg(3, size=(640, 480)))
    assert not ends_complete(data)
    calls = decoder.calls
    with pytest.raises(DecodeError) as caught:
        decode(data, decoder)
    assert caught.value.reason == "truncated"
    assert decoder.calls == calls  # never sent to the device


def test_too_many_pixels_are_refused_from_the_header_before_the_device_sees_them(decoder):
    calls = decoder.calls
    with pytest.raises(DecodeError) as caught:
        decode(jpeg(4, size=(640, 480)), decoder, max_pixels=100_000)
    assert caught.value.reason == "too_many_pixels"
    assert decoder.calls == calls


def test_a_corrupt_stream_gets_the_reason_pillow_gives(decoder):
    data = bytearray(jpeg(5, size=(640, 480)))
    middle = len(data) // 2
    data[middle:middle + 400] = bytes(range(200)) * 2  # the scan damaged, the header and the end intact
    data = bytes(data)
    try:
        expected = ("ok", decode(data, None).image.size)
    except DecodeError as exc:
        expected = ("error", exc.reason)
    try:
        got = ("ok", decode(data, decoder).image.size)
    except DecodeError as exc:
        got = ("error", exc.reason)
    assert got[0] == expected[0]
    if got[0] == "error":
        assert got == expected


def test_what_the_device_cannot_decode_pillow_does(decoder):
    decoded = decode(cmyk_jpeg(), decoder)  # CMYK: Pillow's conversion either way
    r, g, b = decoded.image.getpixel((10, 10))
    assert r < 40 and g > 215 and b > 215  # pure cyan


def test_only_jpegs_go_to_the_device(decoder):
    calls = decoder.calls
    assert decode(png(6, (320, 240)), decoder).image.size == (320, 240)
    assert decoder.calls == calls


def test_the_end_of_image_marker_decides_completeness():
    assert ends_complete(b"\xff\xd8 ... \xff\xd9")
    assert ends_complete(b"\xff\xd8 ... \xff\xd9\x00\x00")  # zero padding after the end, as some cameras write
    assert not ends_complete(b"\xff\xd8 ... \xff")
    assert not ends_complete(b"")


def test_the_setting_picks_the_decoder(base_settings: Settings):
    assert jpeg_decoder_for(base_settings.with_overrides(jpeg_decoder="cpu")) is None
    # auto: only for the torch model on a GPU, so never on this CPU, nor with the ONNX backends.
    assert jpeg_decoder_for(base_settings.with_overrides(jpeg_decoder="auto", device="cpu")) is None
    assert jpeg_decoder_for(base_settings.with_overrides(jpeg_decoder="auto", image_backend="onnx-int8")) is None
    forced = jpeg_decoder_for(base_settings.with_overrides(jpeg_decoder="device", device="cpu"))
    assert isinstance(forced, DeviceJpegDecoder) and forced.device.type == "cpu"


def test_device_without_torchvision_is_a_configuration_error(base_settings: Settings, monkeypatch):
    import es_search.device_decode as device_decode

    monkeypatch.setattr(device_decode, "device_decode_available", lambda: False)
    with pytest.raises(ConfigError, match="make setup-gpu"):
        jpeg_decoder_for(base_settings.with_overrides(jpeg_decoder="device"))
    assert jpeg_decoder_for(base_settings.with_overrides(jpeg_decoder="auto", device="cuda")) is None


def test_the_image_model_runs_in_half_precision_on_a_gpu_only():
    assert half_precision("cuda", "fp16") and half_precision("cuda:1", "fp16")
    assert not half_precision("cuda", "fp32")
    assert not half_precision("cpu", "fp16") and not half_precision("mps", "fp16")
