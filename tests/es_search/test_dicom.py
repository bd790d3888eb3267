"""DICOM decoding: pydicom's own test files (CT, MR, compressed, colour, multi-frame) and files written here
(MONOCHROME1, YBR, windows, a burned-in flag), a truncated file, and files that are no images."""

from __future__ import annotations

import numpy as np
import pytest

from es_search.decode import DecodeError, decode_bytes
from es_search.dicom.decode import dicom_available
from es_search.dicom.tags import dicom_date, dicom_integer, patient_key
from tests.support.dicom_files import PATIENT, bundled, gradient, write_dicom

pytestmark = pytest.mark.skipif(not dicom_available(), reason="needs `make setup-dicom`")


def decoded(path_or_bytes, **options):
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else path_or_bytes.read_bytes()
    return decode_bytes(data, max_pixels=10**8, min_side=1024, **options)  # full size, for exact pixels


@pytest.mark.parametrize("name, modality, size", [
    ("CT_small.dcm", "CT", (128, 128)),                 # explicit VR little endian, 16-bit, rescaled to HU
    ("MR_small.dcm", "MR", (64, 64)),
    ("MR_small_RLE.dcm", "MR", (64, 64)),               # RLE lossless
    ("MR_small_jp2klossless.dcm", "MR", (64, 64)),      # JPEG 2000 lossless
    ("MR_small_jpeg_ls_lossless.dcm", "MR", (64, 64)),  # JPEG-LS lossless
    ("JPGExtended.dcm", "NM", (256, 1024)),             # JPEG extended, 12-bit
    ("SC_rgb_jpeg_dcmtk.dcm", "OT", (100, 100)),        # JPEG baseline in YBR_FULL: colour
    ("examples_palette.dcm", "US", (800, 350)),         # PALETTE COLOR
    ("image_dfl.dcm", "OT", None),                      # deflated explicit VR little endian
    ("SC_rgb_jpeg_gdcm.dcm", "OT", (100, 100)),         # JPEG lossless, process 14
    ("JPEG2000.dcm", "NM", (256, 1024)),                # JPEG 2000 (lossy)
    ("JPEGLSNearLossless_08.dcm", None, None),          # JPEG-LS near-lossless (no modality tag)
])
def test_pydicoms_files_decode_to_images_with_their_tags(name, modality, size):
    image = decoded(bundled(name))
    pixels = np.asarray(image.image)
    assert image.format == "DICOM" and image.fields.get("modality") == modality and image.fields["dicom_frames"] == 1
    assert size is None or image.image.size == size
    assert pixels.std() > 10  # a picture, not a flat field


def test_the_same_mr_decodes_alike_through_every_transfer_syntax():
    plain = np.asarray(decoded(bundled("MR_small.dcm")).image).astype(int)
    for name in ("MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm",
                 "MR_small_bigendian.dcm"):
        assert np.abs(np.asarray(decoded(bundled(name)).image).astype(int) - plain).max() <= 1, name


def test_a_multi_frame_file_gives_its_middle_frame_and_says_how_many():
    image = decoded(bundled("examples_ybr_color.dcm"))  # 30 frames of ultrasound, JPEG in YBR
    assert image.fields["dicom_frames"] == 30 and image.image.size == (320, 240)
    rgb = np.asarray(image.image).astype(int)
    assert np.abs(rgb[..., 0] - rgb[..., 2]).max() > 20  # colour survived the YBR conversion


def test_monochrome1_is_inverted_and_the_stored_window_is_used(tmp_path):
    normal = decoded(write_dicom(tmp_path / "m2.dcm", gradient()))
    inverted = decoded(write_dicom(tmp_path / "m1.dcm", gradient(), photometric="MONOCHROME1"))
    left, right = np.asarray(normal.image)[0, 0, 0], np.asarray(normal.image)[0, -1, 0]
    assert (left, right) != (0, 0) and left < right  # CT default window: dark to bright
    assert np.asarray(inverted.image)[0, 0, 0] > np.asarray(inverted.image)[0, -1, 0]
    windowed = np.asarray(decoded(write_dicom(tmp_path / "w.dcm", gradient(), modality="MR",
                                              window=(1000, 400))).image)[0, :, 0]
    assert windowed[:20].max() == 0 and windowed[-20:].min() == 255  # outside 800..1200 is black or white


def test_ybr_pixels_come_out_as_rgb(tmp_path):
    red = np.zeros((32, 32, 3), np.uint8)
    red[...] = (81, 90, 240)  # pure red in YBR_FULL (Y, Cb, Cr)
    rgb = np.asarray(decoded(write_dicom(tmp_path / "ybr.dcm", red, photometric="YBR_FULL", modality="OT")).image)
    assert rgb[0, 0, 0] > 200 and rgb[0, 0, 1] < 40 and rgb[0, 0, 2] < 40


def test_only_whitelisted_tags_come_out_and_the_pseudonym_needs_a_key(tmp_path):
    path = write_dicom(tmp_path / "p.dcm", gradient(), burned_in=True)
    image = decoded(path)
    assert image.burned_in and image.fields["burned_in"] is True
    assert set(image.fields) <= {"modality", "body_part", "study_date", "study_description", "series_description",
                                 "institution", "department", "study_uid", "series_uid", "sop_uid", "series_number",
                                 "instance_number", "burned_in", "dicom_frames", "patient_key"}
    text = repr(image.fields)
    assert not any(value.split("^")[0] in text for value in PATIENT.values())
    assert "patient_key" not in image.fields
    keyed = decoded(path, dicom_secret="s3cret")
    again = decoded(write_dicom(tmp_path / "q.dcm", gradient()), dicom_secret="s3cret")
    other = decoded(path, dicom_secret="another")
    assert keyed.fields["patient_key"] == again.fields["patient_key"] != other.fields["patient_key"]
    assert len(keyed.fields["patient_key"]) == 16 and patient_key({}, "s3cret") is None
    assert (dicom_date("20260115"), dicom_date("2026011"), dicom_date("20261315")) == ("2026-01-15", None, None)
    assert [dicom_integer(v) for v in ("12", " 3 ", "", None, "x7", "99999999999")] == [12, 3, None, None, None, None]


@pytest.mark.parametrize("name, reason", [
    ("MR_truncated.dcm", "truncated"),     # pydicom's own: the pixel data ends early
    ("rtplan.dcm", "no_pixel_data"),       # a treatment plan
    ("waveform_ecg.dcm", "no_pixel_data"),
])
def test_files_that_hold_no_readable_image_say_why(name, reason):
    with pytest.raises(DecodeError) as caught:
        decoded(bundled(name))
    assert caught.value.reason == reason


def test_a_file_cut_short_is_truncated(tmp_path):
    data = write_dicom(tmp_path / "cut.dcm", gradient(256, 256)).read_bytes()
    with pytest.raises(DecodeError) as caught:
        decoded(data[:len(data) // 2])
    assert caught.value.reason == "truncated"
