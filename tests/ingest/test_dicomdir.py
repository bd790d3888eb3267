"""A DICOMDIR named as the source: the files it lists, each missing one reported, a record leading out of its
folder refused, a damaged DICOMDIR reported; no node needed."""

from __future__ import annotations

import shutil

import pytest

from es_search.dicom.decode import dicom_available
from ingest.dicomdir import dicomdir_files, walk_root
from ingest.discover import discover_images
from tests.support.dicom_files import bundled

pytestmark = pytest.mark.skipif(not dicom_available(), reason="needs `make setup-dicom`")


def _read(path):
    problems: list[tuple[str, str]] = []
    found = list(dicomdir_files(str(path), lambda where, reason, message: problems.append((where, reason))))
    return found, problems


def test_the_files_a_dicomdir_lists_and_the_missing_ones(tmp_path):
    medium = tmp_path / "medium"
    shutil.copytree(bundled("dicomdirtests"), medium)
    (medium / "77654033" / "CR1" / "6154").unlink()
    found, problems = _read(medium / "DICOMDIR")
    assert len(found) == 30 and len(set(found)) == 30 and all(path.startswith(str(medium) + "/") for path in found)
    assert problems == [(str(medium / "77654033" / "CR1" / "6154"), "not_found")]
    assert list(discover_images(medium / "DICOMDIR")) == found  # a DICOMDIR as the root: what it lists
    assert walk_root(str(medium / "DICOMDIR")) == str(medium) and walk_root(str(medium)) == str(medium)


def test_a_record_pointing_outside_the_medium_is_refused(tmp_path):
    import pydicom

    medium = tmp_path / "medium"
    shutil.copytree(bundled("dicomdirtests"), medium)
    ds = pydicom.dcmread(medium / "DICOMDIR")
    ds.DirectoryRecordSequence[3].ReferencedFileID = ["..", "..", "etc", "passwd"]
    ds.save_as(medium / "DICOMDIR")
    found, problems = _read(medium / "DICOMDIR")
    assert len(found) == 30 and not any("passwd" in path for path in found)
    assert problems == [(str(medium / "DICOMDIR"), "unreadable")]


def test_a_damaged_or_false_dicomdir_is_reported(tmp_path):
    (tmp_path / "DICOMDIR").write_bytes(b"not a DICOM file at all" * 10)
    assert _read(tmp_path / "DICOMDIR") == ([], [(str(tmp_path / "DICOMDIR"), "not_dicom")])
    whole = bundled("dicomdirtests/DICOMDIR").read_bytes()
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "DICOMDIR").write_bytes(whole[:len(whole) // 3])
    found, problems = _read(tmp_path / "cut" / "DICOMDIR")  # alone: none of the files it lists is there
    # pydicom reads a cut DICOMDIR as far as it goes: the records before the cut, each file reported missing
    assert found == [] and 0 < len(problems) < 31 and {reason for _, reason in problems} == {"not_found"}
