"""What one run met in its source: record ids and locations, kept on disk so memory stays flat for millions.

Two uses: a records file naming the same id twice (the later row is reported as `duplicate_id`), and
`--prune`, which removes from the index what the source no longer holds, i.e. what this set lacks.
The store is a throw-away SQLite file under the data folder, deleted when the run closes it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path

COMMIT_EVERY = 5000


class SeenKeys:
    """A set of (kind, key) pairs on disk; kinds are "id" (document ids) and "loc" (locations)."""

    def __init__(self, data_dir: Path):
        folder = Path(data_dir) / "runs"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"seen-{os.getpid()}-{uuid.uuid4().hex[:8]}.sqlite"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=OFF")  # throw-away: no crash safety needed
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE seen (kind TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (kind, key))")
        self._uncommitted = 0

    def add(self, kind: str, key: str) -> bool:
        """Remember a key; False when it was met before in this run."""
        with self._lock:
            cursor = self._db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?)", (kind, key))
            self._tick()
            return cursor.rowcount == 1

    def missing(self, kind: str, keys: Iterable[str]) -> set[str]:
        """Those of `keys` never met in this run."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return set()
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(keys), 500):
                part = keys[start:start + 500]
                marks = ",".join("?" * len(part))
                found.update(row[0] for row in self._db.execute(
                    f"SELECT key FROM seen WHERE kind = ? AND key IN ({marks})", [kind, *part]))
        return set(keys) - found

    def _tick(self) -> None:
        self._uncommitted += 1
        if self._uncommitted >= COMMIT_EVERY:
            self._db.commit()
            self._uncommitted = 0

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self.path.unlink(missing_ok=True)
