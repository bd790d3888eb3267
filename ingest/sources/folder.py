"""The image files under folders and in list files, as items: one per path, by a walk in a stable order.

Walk problems (an unreadable folder, a missing path, a known image type the pipeline cannot read) come as
ItemProblems where they are met. With `shard` I/N only the files whose path, relative to the deepest
folder given holding it, hashes to shard I (and only their problems). A prune after a walk that could not
read some folder is refused: its files would look deleted.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from es_search.paths import relative_path
from ingest.dicomdir import walk_root
from ingest.discover import discover_all
from ingest.items import Item, ItemProblem
from ingest.prune import PruneScope
from ingest.shard import WHOLE, Shard, in_shard, select

# Walk failures after which a folder's prune would mistake unread files for deleted ones.
WALK_GAPS = ("unreadable", "not_found")


class FolderSource:
    origin = None
    checks_ids = False
    remote = False

    def __init__(self, folders: Iterable[str], list_files: Iterable[str] = (), *, shard: Shard = WHOLE,
                 exclude: Iterable[str] = (), fields_for: Callable[[str], dict | None] | None = None):
        self.folders = [str(folder) for folder in folders]
        self.list_files = [str(path) for path in list_files]
        self.shard = shard
        self.exclude = [str(path) for path in exclude]
        self.fields_for = fields_for
        self.roots = [os.path.abspath(walk_root(folder)) for folder in self.folders]
        self.gaps: list[str] = []

    def items(self) -> Iterator[Item | ItemProblem]:
        problems: deque[ItemProblem] = deque()

        def on_error(path: str, reason: str, message: str) -> None:
            if reason in WALK_GAPS:
                self.gaps.append(path)
            problems.append(ItemProblem(path, reason, message))

        for path in self._walk(on_error):
            while problems:
                yield problems.popleft()
            yield Item(path, fields=(self.fields_for(path) if self.fields_for else None) or {})
        while problems:
            yield problems.popleft()

    def total(self) -> int | None:
        return None  # unknown until a walk ends: see count()

    def count(self) -> int:
        """A second, cheap walk that only counts (what it reports counts too: each is one item of the run)."""
        reported = 0

        def on_error(path: str, reason: str, message: str) -> None:
            nonlocal reported
            reported += 1

        return sum(1 for _ in self._walk(on_error)) + reported

    def count_in_background(self, done: Callable[[int], None]) -> None:
        def count() -> None:
            try:
                done(self.count())
            except Exception:  # the count is a nicety; the real walk reports problems
                return

        threading.Thread(target=count, name="imgsearch-count", daemon=True).start()

    def prune_scopes(self) -> list[PruneScope]:
        return [PruneScope.folder(walk_root(folder)) for folder in self.folders]

    def prune_refusal(self) -> str | None:
        if self.gaps:
            return f"not pruned: {len(self.gaps)} folders or files could not be read (see the report)"
        return None

    def _walk(self, on_error) -> Iterator[str]:
        def shard_error(path: str, reason: str, message: str) -> None:
            if in_shard(relative_path(path, self.roots), self.shard):  # each problem is reported by one shard
                on_error(path, reason, message)

        found = discover_all(self.folders, self.list_files, on_error=shard_error, exclude=self.exclude)
        return select(found, self.shard, key=lambda path: relative_path(path, self.roots))
