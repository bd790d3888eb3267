"""The rows of a records file (CSV or JSON Lines) as items, each with its id, fields and image location.

The file is checked as a whole when the source is made (RecordsFileError: nothing is indexed); rows are
then streamed. With `shard` I/N, only the rows whose id (else image location) hashes to shard I.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from es_search.fields import FieldRegistry
from ingest.items import Item, ItemProblem
from ingest.prune import PruneScope
from ingest.records import RecordColumns, check_records_file, read_records
from ingest.shard import WHOLE, Shard, record_key, select


class RecordsSource:
    checks_ids = True
    remote = True

    def __init__(self, path: str | Path, registry: FieldRegistry, *, image_column: str = "image",
                 id_column: str = "id", origin: str | None = None, shard: Shard = WHOLE):
        self.columns = RecordColumns.from_registry(registry, image=image_column, id_column=id_column)
        self.checked = check_records_file(Path(path), self.columns)
        self.origin = origin or str(Path(path).resolve())
        self.shard = shard
        self.roots: list[str] = []

    def items(self) -> Iterator[Item | ItemProblem]:
        return select(read_records(self.checked, self.columns, self.origin), self.shard, key=record_key)

    def total(self) -> int | None:
        return self.checked.rows if self.shard == WHOLE else None

    def prune_scopes(self) -> list[PruneScope]:
        return [PruneScope("records", self.origin)]

    def prune_refusal(self) -> str | None:
        return None
