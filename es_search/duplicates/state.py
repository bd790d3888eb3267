"""The resumable state of a grouping pass, on disk: a small JSON file and an append-only file of edges.

A full pass scans the index in `sha256` order; after each `_msearch` batch its confirmed pairs are
appended to the edges file and the scan position is saved (atomically, by rename), so an interrupted pass
resumes at the next batch. The JSON also keeps the thresholds the groups were built with (a change needs a
full regrouping) and `checked_until`, the `indexed_at` from which newer images still need checking.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from es_search.duplicates.neighbours import Edge

STATE_VERSION = 1


@dataclass
class GroupingState:
    index: str
    thresholds: dict
    neighbours: int
    phase: str = "scan"  # scan → write → done
    cursor: list | None = None  # the last scanned document's sort values
    scanned: int = 0
    started_at: str | None = None
    checked_until: str | None = None
    version: int = STATE_VERSION
    extra: dict = field(default_factory=dict)

    def matches(self, index: str, thresholds: dict, neighbours: int) -> bool:
        return (self.version == STATE_VERSION and self.index == index and self.thresholds == thresholds
                and self.neighbours == neighbours)


class StateFiles:
    """Where one index's grouping state lives: DATA_DIR/duplicates/<index>.json and <index>.edges.tsv."""

    def __init__(self, folder: Path, index: str):
        self.folder = Path(folder)
        self.json_path = self.folder / f"{index}.json"
        self.edges_path = self.folder / f"{index}.edges.tsv"

    def load(self) -> GroupingState | None:
        try:
            data = json.loads(self.json_path.read_text(encoding="utf-8"))
            return GroupingState(**data)
        except (OSError, ValueError, TypeError):
            return None  # none yet, or unreadable: a fresh pass is the safe answer

    def save(self, state: GroupingState) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.json_path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(asdict(state)), encoding="utf-8")
        os.replace(temporary, self.json_path)

    def reset_edges(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.edges_path.write_text("", encoding="utf-8")

    def append_edges(self, edges: list[Edge]) -> None:
        """Append before the cursor is saved: a crash between the two only repeats edges, which union-find
        absorbs."""
        if not edges:
            return
        with open(self.edges_path, "a", encoding="utf-8") as out:
            out.writelines(f"{e.a}\t{e.b}\t{e.similarity}\n" for e in edges)
            out.flush()
            os.fsync(out.fileno())

    def read_edges(self):
        if not self.edges_path.exists():
            return
        with open(self.edges_path, encoding="utf-8") as lines:
            for line in lines:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 3:
                    yield Edge(parts[0], parts[1], float(parts[2]))
