"""Sources: each kind of input is a small class that says what it yields. The pipeline never knows which.

- `FolderSource`: the image files under folders (and in list files), by path;
- `RecordsSource`: the rows of a records file (CSV or JSON Lines), with their ids and fields;
- `PrefixSource`: the image objects under an s3:// prefix;
- `UploadSource`: the images of one write API request (ingest/image_write.py).
Each yields `Item`s and `ItemProblem`s (ingest/items.py) and says what a run over it needs: the width of
its fetch pool, whether ids must be checked for repeats, what a prune of it covers, its size when known.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from ingest.items import Item, ItemProblem
from ingest.prune import PruneScope


class Source(Protocol):
    origin: str | None  # the `sources` entry of its documents; None for folders (known by their paths)
    roots: list[str]  # what `relative_path` is relative to (with the configured image roots)
    checks_ids: bool  # a record id named twice is a `duplicate_id`
    remote: bool  # may name URLs and s3:// objects (a remote reader is needed)

    def items(self) -> Iterator[Item | ItemProblem]: ...

    def total(self) -> int | None: ...

    def prune_scopes(self) -> list[PruneScope]: ...

    def prune_refusal(self) -> str | None: ...
