"""File facts and content identity: size, modification time and the SHA-256 of the bytes (the document id)."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass

from ingest.failures import FileFailure

READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileFacts:
    """One file as found on disk; `sha256` is empty until the bytes are hashed."""

    path: str
    size: int
    mtime_ns: int
    sha256: str = ""


def stat_file(path: str) -> FileFacts:
    """Size and modification time of a regular file, or FileFailure (vanished, unreadable, empty, not a file)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FileFailure("vanished", "the file disappeared before it was read") from None
    except OSError as exc:
        raise FileFailure("unreadable", exc.strerror or str(exc)) from None
    if not stat.S_ISREG(info.st_mode):
        raise FileFailure("not_a_file", "not a regular file")
    if info.st_size == 0:
        raise FileFailure("empty", "the file has no bytes")
    return FileFacts(path=path, size=info.st_size, mtime_ns=info.st_mtime_ns)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hash_file(facts: FileFacts) -> FileFacts:
    """The same facts with the SHA-256 of the file's bytes, read in chunks (memory stays small for big files)."""
    digest = hashlib.sha256()
    try:
        with open(facts.path, "rb") as fh:
            while chunk := fh.read(READ_CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        raise FileFailure("vanished", "the file disappeared before it was read") from None
    except OSError as exc:
        raise FileFailure("unreadable", exc.strerror or str(exc)) from None
    return FileFacts(facts.path, facts.size, facts.mtime_ns, digest.hexdigest())


def read_verified(facts: FileFacts) -> bytes:
    """The file's bytes, checked against the hash taken earlier: a file changed in between is not indexed under a stale id."""
    try:
        with open(facts.path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise FileFailure("vanished", "the file disappeared before it was read") from None
    except OSError as exc:
        raise FileFailure("unreadable", exc.strerror or str(exc)) from None
    if sha256_bytes(data) != facts.sha256:
        raise FileFailure("changed", "the file changed while the run was reading it; run again")
    return data
