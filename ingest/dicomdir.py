"""A DICOMDIR, the index of a DICOM medium (a CD, a USB stick from a modality), as the files it lists.

`imgsearch ingest /media/DICOMDIR` reads the files the DICOMDIR's records reference, in the order they are
stored, instead of walking the folder: a medium's files are often named without extensions
(`IMAGES/IM000001`), and the DICOMDIR is what says which are its images. A listed file that is missing is
reported as `not_found`. Only the file references are read out of it: its patient records (names, ids)
are never copied, logged or reported, and pydicom's warnings (which may quote values) are silenced. A
DICOMDIR met inside a walked folder is skipped: the walk finds its files anyway.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator

DICOMDIR_NAME = "DICOMDIR"

OnError = Callable[[str, str, str], None]  # (path, reason, message)


def is_dicomdir(path: str) -> bool:
    return os.path.basename(path).upper() == DICOMDIR_NAME


def dicomdir_files(path: str, on_error: OnError | None = None) -> Iterator[str]:
    """The absolute paths of the files a DICOMDIR lists that exist; the rest go to `on_error`."""
    def report(where: str, reason: str, message: str) -> None:
        if on_error is not None:
            on_error(where, reason, message)

    try:
        from pydicom import dcmread
        from pydicom.errors import InvalidDicomError
    except ImportError:
        report(path, "unsupported_format", "reading a DICOMDIR needs pydicom: install it with `make setup-dicom`")
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's warnings may quote a record's values
            records = dcmread(path, specific_tags=["DirectoryRecordSequence"]).get("DirectoryRecordSequence") or []
            listed = [_referenced(path, record) for record in records if "ReferencedFileID" in record]
    except InvalidDicomError:
        report(path, "not_dicom", "named DICOMDIR, but it is not a DICOM file")
        return
    except Exception as exc:  # a damaged index must not end a run: report it as any damaged file
        report(path, "corrupt", f"the DICOMDIR cannot be read ({type(exc).__name__})")
        return
    seen: set[str] = set()
    for file in listed:
        if file is None:
            report(path, "unreadable", "a record of the DICOMDIR names a file outside its folder: skipped")
            continue
        if file in seen:
            continue
        seen.add(file)
        if os.path.isfile(file):
            yield file
        else:
            report(file, "not_found", "listed in the DICOMDIR, but not on the medium")


def _referenced(dicomdir: str, record) -> str | None:
    """A record's Referenced File ID (path components, relative to the DICOMDIR's folder) as a path; None
    for one that would lead out of that folder (`..`, an absolute component)."""
    value = record.ReferencedFileID
    parts = [str(value)] if isinstance(value, str) else [str(part) for part in value]
    folder = os.path.dirname(os.path.abspath(dicomdir))
    path = os.path.normpath(os.path.join(folder, *parts))
    return path if path.startswith(os.path.join(folder, "")) else None


def walk_root(path: str) -> str:
    """What a source's paths are relative to, and what its prune covers: a DICOMDIR's folder, else `path`."""
    return os.path.dirname(os.path.abspath(path)) if is_dicomdir(path) and os.path.isfile(path) else path
