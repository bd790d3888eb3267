"""Discover stage: the image (and video) files under some folders, or listed in a file, as a stream in a
stable order. Videos become frames later (ingest/sources/video.py).

Nothing here holds the whole collection: paths are yielded one by one while the folders are walked.
Files of a known image type that the pipeline cannot read (SVG, camera raw, Photoshop, HEIC without a
plugin...) are not yielded but reported as `unsupported_format`, so a user learns why they are missing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from PIL import Image, features

from es_search.dicom.decode import DICOM_EXTENSIONS, is_dicom
from ingest.dicomdir import DICOMDIR_NAME, dicomdir_files, is_dicomdir
from ingest.video import is_video_name

# Photo formats Pillow reads only when built with, or given a plugin for, their decoder.
BUILD_DEPENDENT_EXTENSIONS = frozenset({".avif", ".heic", ".heif", ".jxl"})

# Image types found beside photos that the pipeline does not decode, by what they are.
_UNREADABLE_KINDS = {
    "a vector drawing": (".svg", ".svgz", ".ai", ".eps"),
    "a camera raw file": (".raw", ".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".orf",
                          ".rw2", ".raf", ".pef", ".srw", ".x3f", ".3fr", ".erf", ".kdc", ".mrw", ".rwl", ".iiq"),
    "an image editor's document": (".psd", ".psb", ".xcf", ".kra"),
}


def _pillow_reads(extension: str) -> bool:
    Image.init()
    format_name = Image.registered_extensions().get(extension)
    if format_name is None:
        return False
    # Pillow registers AVIF even when built without libavif; only the feature check tells.
    return format_name != "AVIF" or bool(features.check("avif"))


IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", *DICOM_EXTENSIONS}
                             | {ext for ext in BUILD_DEPENDENT_EXTENSIONS if _pillow_reads(ext)})

# Called with (path, reason, message) for a source or folder that cannot be read, so the run can report it.
OnError = Callable[[str, str, str], None]


def is_image_name(name: str) -> bool:
    """True when the file name ends in one of the image extensions, in any letter case."""
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def is_bare_dicom(entry: os.DirEntry) -> bool:
    """A file without an extension (or named by a UID, `1.2.840.…`, whose last part reads as one) that starts
    like a DICOM file: archives often name files so. DICOMDIR, a media index, is not an image: the walk finds
    the files it lists anyway."""
    extension = os.path.splitext(entry.name)[1]
    if (extension and not extension[1:].isdigit()) or entry.name.upper() == DICOMDIR_NAME:
        return False
    try:
        with open(entry.path, "rb") as fh:
            return is_dicom(fh.read(132))
    except OSError:
        return False


def unreadable_image_reason(name: str) -> str | None:
    """Why a file of a known image type will not be indexed (reported as `unsupported_format`), or None when
    the name is of an indexed type or of no image type at all."""
    extension = os.path.splitext(name)[1].lower()
    if extension in IMAGE_EXTENSIONS:
        return None
    if extension in BUILD_DEPENDENT_EXTENSIONS:
        return (f"a {extension[1:].upper()} image: the Pillow installed here cannot decode it; convert it to JPEG, "
                "or install a Pillow build or plugin that reads it")
    for kind, extensions in _UNREADABLE_KINDS.items():
        if extension in extensions:
            return f"{kind} ({extension}): the pipeline does not decode it; export it as JPEG or PNG to index it"
    return None


def discover_images(root: str | Path, on_error: OnError | None = None,
                    exclude: Iterable[str | Path] = ()) -> Iterator[str]:
    """Absolute paths of the image files under `root`, depth first, each folder's entries sorted by name.

    Symbolic links to folders are followed, but a folder already visited (same device and inode) is not
    entered again, so link loops end. Only regular files count: FIFOs and devices named `x.jpg` would hang a reader.
    Known image types the pipeline cannot read go to `on_error` as `unsupported_format` instead.
    `root` may itself be a file, which is yielded whatever its extension: the decoder says what it is; a
    DICOMDIR gives the files it lists (ingest/dicomdir.py).
    """
    root = os.path.abspath(root)
    excluded = {os.path.abspath(p) for p in exclude}
    if os.path.isfile(root):
        if is_dicomdir(root):
            yield from dicomdir_files(root, on_error)
        else:
            yield root
        return
    visited: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        if folder in excluded:
            continue
        try:
            info = os.stat(folder)
        except OSError as exc:
            _report(on_error, folder, exc)
            continue
        key = (info.st_dev, info.st_ino)
        if key in visited:
            continue
        visited.add(key)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            _report(on_error, folder, exc)
            continue
        subfolders = []
        for entry in entries:
            try:
                if entry.is_dir():
                    subfolders.append(entry.path)
                elif entry.is_file():
                    if is_image_name(entry.name) or is_video_name(entry.name) or is_bare_dicom(entry):
                        yield entry.path
                    elif on_error is not None and (why := unreadable_image_reason(entry.name)):
                        on_error(entry.path, "unsupported_format", why)
            except OSError as exc:  # a broken entry must not end the walk
                _report(on_error, entry.path, exc)
        # Reversed onto the stack so that folders come off it in name order.
        stack.extend(reversed(subfolders))


def paths_from_list(list_file: str | Path, on_error: OnError | None = None,
                    exclude: Iterable[str | Path] = ()) -> Iterator[str]:
    """The paths named in a text file, one a line (blank lines and `#` comments skipped).

    Relative paths are taken from the current folder; a listed folder is walked like a command-line one.
    Listed files are kept whatever their extension: the decoder says whether they are images.
    """
    with open(list_file, encoding="utf-8") as fh:
        for line in fh:
            name = line.strip()
            if not name or name.startswith("#"):
                continue
            yield from discover_images(name, on_error=on_error, exclude=exclude)


def discover_all(sources: Iterable[str | Path], list_files: Iterable[str | Path] = (),
                 on_error: OnError | None = None, exclude: Iterable[str | Path] = ()) -> Iterator[str]:
    """Every image under `sources`, then every path in `list_files`, in order."""
    exclude = tuple(exclude)
    for source in sources:
        if not os.path.exists(source):
            _report(on_error, os.path.abspath(source), FileNotFoundError("no such file or folder"))
            continue
        yield from discover_images(source, on_error=on_error, exclude=exclude)
    for list_file in list_files:
        yield from paths_from_list(list_file, on_error=on_error, exclude=exclude)


def _report(on_error: OnError | None, path: str, exc: Exception) -> None:
    if on_error is not None:
        reason = "not_found" if isinstance(exc, FileNotFoundError) else "unreadable"
        on_error(path, reason, exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc))
