"""Image paths relative to their image roots: what a user recognises, without the machine's folder layout.

Pure string logic (no filesystem access): the caller passes absolute, normalised paths and roots, as the
ingest's discover stage and the settings give them.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable


def _inside(path: str, root: str, sep: str) -> str | None:
    """`path` below `root` (strictly: a root is not inside itself), or None."""
    root = root.rstrip(sep) or sep
    prefix = root if root.endswith(sep) else root + sep
    return path[len(prefix):] if path.startswith(prefix) and len(path) > len(prefix) else None


def relative_path(path: str, roots: Iterable[str], sep: str = posixpath.sep) -> str:
    """`path` relative to the deepest root holding it; the full path when no root does.

    The deepest root wins so that a folder indexed on its own inside a wider image root still shows its
    own layout. A root that is the file itself (a single file given to ingest) does not hold it.
    """
    best: str | None = None
    best_depth = -1
    for root in roots:
        root = str(root)
        rest = _inside(path, root, sep)
        depth = len(root.rstrip(sep))
        if rest is not None and depth > best_depth:
            best, best_depth = rest, depth
    return best if best is not None else path


def relative_paths(paths: Iterable[str], roots: Iterable[str], sep: str = posixpath.sep) -> list[str]:
    """`relative_path` of each path, in the same order (the document's `relative_path` follows `paths`)."""
    roots = [str(root) for root in roots]
    return [relative_path(path, roots, sep) for path in paths]
