"""Which part of a collection one of N ingest processes takes: `--shard I/N`, by a stable hash of each item's key.

In: a stream of items and a way to name each one (its key); out: the items of shard I, in the same order.
N processes given the same input and shards 0/N … N-1/N (N machines, N GPUs, a Kubernetes indexed Job,
a Slurm array) then ingest one collection together with no overlap, no gap and no coordinator: every item
belongs to exactly one shard, decided by its key alone.

The key must name an item the same way on every machine: a record's id for records (its image's location
when it has none; an object's location under an s3:// prefix), and for files the path relative to the folder
given on the command line (machines may mount the collection in different places). Rows with the same id
land in one shard, so a duplicated id is still found. The hash is BLAKE2b, not Python's `hash()`, which is salted per process. Two files with the same
bytes may land in different shards; the content-hash document ids make the second one add its path to
the first one's document, as in a single run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

Item = TypeVar("Item")


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (0 ≤ index < count); Shard(0, 1) is the whole input."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index}/{self.count}: need 0 <= I < N")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


WHOLE = Shard(0, 1)


def parse_shard(text: str) -> Shard:
    """'2/8' → Shard(2, 8). Shards count from 0, like a Kubernetes job's completion index."""
    index, sep, count = text.strip().partition("/")
    if not sep or not index.strip().isdigit() or not count.strip().isdigit():
        raise ValueError(f"--shard takes I/N (e.g. 0/4, shards count from 0), got {text!r}")
    return Shard(int(index), int(count))


def shard_of(key: str, count: int) -> int:
    """The shard (0 … count-1) that owns `key`: the same on every machine, Python version and run."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def in_shard(key: str, shard: Shard) -> bool:
    """Whether `key` belongs to `shard`."""
    return shard.count == 1 or shard_of(key, shard.count) == shard.index


def record_key(item) -> str:
    """A record's shard key: its id, else its image's location (the same content hash then decides its
    document, as for files); a bad row is keyed by its line, so exactly one shard reports it."""
    record_id = getattr(item, "record_id", None)
    if record_id:
        return f"id:{record_id}"
    location = getattr(item, "location", None)
    return f"loc:{location}" if location else f"line:{item.line}"


def select(items: Iterable[Item], shard: Shard, key: Callable[[Item], str]) -> Iterator[Item]:
    """The items of `shard`, lazily and in order."""
    if shard.count == 1:
        yield from items
        return
    for item in items:
        if in_shard(key(item), shard):
            yield item
