"""How visitors see where an image lives: relative to its image root, in full, or not at all.

A full server path tells every visitor how the server's disks are laid out (user names, mount points).
So by default (`show_paths = "relative"`) a path is shown relative to the IMGSEARCH_IMAGE_ROOTS folder it
lies under, and a path outside every root shows its file name only, never the full path. "full" shows
paths as indexed; "hidden" leaves them out. Pure: paths are compared as the ingest stored them
(absolute, symlinks not resolved), nothing is read from disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path


def relative_to_roots(path: str, roots: Iterable[Path | str]) -> str:
    """`path` relative to the deepest root it lies under, else its file name alone."""
    normal = os.path.normpath(path)
    best: str | None = None
    for root in roots:
        base = os.path.normpath(os.path.abspath(root))
        if normal == base or not normal.startswith(base.rstrip(os.sep) + os.sep):
            continue
        relative = os.path.relpath(normal, base)
        if best is None or len(relative) < len(best):
            best = relative
    return best if best is not None else os.path.basename(normal)


def shown_paths(paths: Sequence[str], roots: Iterable[Path | str], mode: str) -> list[str] | None:
    """The paths as visitors see them under `mode` (relative, full, hidden); None when hidden."""
    if mode == "hidden":
        return None
    texts = [p for p in paths or () if isinstance(p, str)]
    if mode == "full":
        return texts
    roots = list(roots)
    return [relative_to_roots(p, roots) for p in texts]


def public_source(source: dict, roots: Iterable[Path | str], mode: str) -> dict:
    """A copy of an image document fit to show: `paths` rewritten by `shown_paths`, or removed when hidden."""
    shown = dict(source)
    if "paths" not in shown:
        return shown
    paths = shown_paths(shown["paths"], roots, mode)
    if paths is None:
        del shown["paths"]
    else:
        shown["paths"] = paths
    return shown
