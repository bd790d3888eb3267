"""The local record of files already in the index, so a rerun skips unchanged files without reading them.

One SQLite file under the data folder maps (physical index, path) → (size, mtime, sha256). A row is written
only after Elasticsearch acknowledged the file's path, and it is trusted only while size and modification
time still match. Rows are keyed by the physical index name, so after `index reindex` or deleting the index
the old rows simply stop matching and files are checked against Elasticsearch again.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from ingest.fingerprint import FileFacts

SCHEMA = """
CREATE TABLE IF NOT EXISTS indexed_files (
    index_name TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (index_name, path)
)
"""


def state_path(data_dir: Path) -> Path:
    return Path(data_dir) / "ingest-state.sqlite"


class IndexedFiles:
    """Thread-safe access to the state file; the pipeline's threads share one connection under a lock."""

    def __init__(self, path: Path, index_name: str):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.index_name = index_name
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        # WAL: readers never block the writer; NORMAL sync is enough, the index is the source of truth.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(SCHEMA)
        self._db.commit()

    def unchanged(self, files: Iterable[FileFacts]) -> set[str]:
        """The paths among `files` recorded as indexed with the same size and modification time."""
        files = list(files)
        if not files:
            return set()
        by_path = {f.path: f for f in files}
        marks = ",".join("?" * len(by_path))
        with self._lock:
            rows = self._db.execute(
                f"SELECT path, size, mtime_ns FROM indexed_files WHERE index_name = ? AND path IN ({marks})",
                [self.index_name, *by_path],
            ).fetchall()
        return {path for path, size, mtime_ns in rows
                if by_path[path].size == size and by_path[path].mtime_ns == mtime_ns}

    def known_hash(self, facts: FileFacts) -> str | None:
        """The recorded content hash of this file when its size and modification time still match, else None."""
        with self._lock:
            row = self._db.execute(
                "SELECT sha256 FROM indexed_files WHERE index_name = ? AND path = ? AND size = ? AND mtime_ns = ?",
                [self.index_name, facts.path, facts.size, facts.mtime_ns]).fetchone()
        return row[0] if row else None

    def record(self, files: Iterable[FileFacts]) -> dict[str, str]:
        """Remember these hashed files as indexed (call only after Elasticsearch acknowledged them).

        Returns {path: previous hash} for the files recorded before with other content: the documents of
        those hashes still list the path, and the caller takes it off them.
        """
        rows = [(self.index_name, f.path, f.size, f.mtime_ns, f.sha256) for f in files]
        if not rows:
            return {}
        by_path = {f.path: f.sha256 for f in files}
        marks = ",".join("?" * len(by_path))
        with self._lock:
            before = self._db.execute(
                f"SELECT path, sha256 FROM indexed_files WHERE index_name = ? AND path IN ({marks})",
                [self.index_name, *by_path]).fetchall()
            self._db.executemany("INSERT OR REPLACE INTO indexed_files VALUES (?, ?, ?, ?, ?)", rows)
            self._db.commit()
        return {path: old for path, old in before if old != by_path[path]}

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM indexed_files WHERE index_name = ?",
                                    [self.index_name]).fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
