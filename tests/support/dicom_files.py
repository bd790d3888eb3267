"""DICOM files for the tests: pydicom's own test files (they ship inside its wheel; read from its folder,
never downloaded), and files written here with known pixels, tags and patient data in every identifying tag."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Patient data written into every identifying tag; none of it may come out (tests/ingest/test_dicom.py).
PATIENT = {"PatientName": "Zyxwvut^Quentina", "PatientID": "PID-4471-SECRET", "PatientBirthDate": "19450317",
           "PatientAddress": "17 Hidden Lane, Nowhere", "OtherPatientIDs": "OTHER-ID-90210",
           "ReferringPhysicianName": "Drsecret^Olga", "AccessionNumber": "ACC-55512",
           "PatientTelephoneNumbers": "555-0199-7788"}
SECRETS = ("Zyxwvut", "Quentina", "PID-4471-SECRET", "19450317", "1945-03-17", "Hidden Lane", "OTHER-ID-90210",
           "Drsecret", "ACC-55512", "555-0199-7788")


def bundled(name: str) -> Path:
    """One of pydicom's test files, from the installed package."""
    import pydicom

    path = Path(pydicom.data.__file__).parent / "test_files" / name
    assert path.exists(), f"pydicom's wheel lacks {name}"
    return path


def write_dicom(path: Path, pixels: np.ndarray, *, photometric: str = "MONOCHROME2", modality: str = "CT",
                burned_in: bool = False, window: tuple[float, float] | None = None, tags: dict | None = None) -> Path:
    """A DICOM Part 10 file (explicit VR little endian) with these pixels, the patient data above and `tags`."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = SecondaryCaptureImageStorage, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.StudyDate, ds.StudyDescription = modality, "20260115", "CHEST ROUTINE"
    ds.BodyPartExamined, ds.InstitutionName, ds.InstitutionalDepartmentName = "CHEST", "General Hospital", "Radiology"
    for keyword, value in {**PATIENT, **(tags or {})}.items():
        setattr(ds, keyword, value)
    if burned_in:
        ds.BurnedInAnnotation = "YES"
    if window:
        ds.WindowCenter, ds.WindowWidth = window
    colour = pixels.ndim == 3
    ds.Rows, ds.Columns = pixels.shape[:2]
    ds.SamplesPerPixel = 3 if colour else 1
    ds.PhotometricInterpretation = photometric
    if colour:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8 if pixels.dtype == np.uint8 else 16
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    return path


def gradient(width: int = 96, height: int = 64, top: int = 4000) -> np.ndarray:
    """16-bit pixels rising left to right, 0 to `top`."""
    return np.tile(np.linspace(0, top, width).astype(np.uint16), (height, 1))
