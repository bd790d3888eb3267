"""The image objects under an object-storage prefix (s3://bucket/prefix/), as items, in listing order.

Like a folder, the content hash is each document's id and a copy under another key adds its location; the
listing's size and modification time let a rerun skip unchanged objects without downloading them. The
first page is listed when the source is made, so a bucket that cannot be listed stops the command before
anything (SourceUnavailable). With `shard` I/N, by each object's location.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from es_search.config import Settings
from es_search.remote import list_s3
from ingest.discover import is_image_name
from ingest.items import Item, ItemProblem, record_digest
from ingest.prune import PruneScope
from ingest.shard import WHOLE, Shard, record_key, select
from ingest.video import is_video_name


class PrefixSource:
    checks_ids = False
    remote = True

    def __init__(self, settings: Settings, prefix_url: str, *, shard: Shard = WHOLE):
        self.origin = prefix_url
        self.shard = shard
        self.roots: list[str] = []
        listing = listed_items(settings, prefix_url)
        first = next(listing, None)
        self._listing = itertools.chain([first] if first else [], listing)

    def items(self) -> Iterator[Item | ItemProblem]:
        return select(self._listing, self.shard, key=record_key)

    def total(self) -> int | None:
        return None

    def prune_scopes(self) -> list[PruneScope]:
        return [PruneScope("location", self.origin)]

    def prune_refusal(self) -> str | None:
        return None


def listed_items(settings: Settings, prefix_url: str) -> Iterator[Item]:
    """The image objects under a prefix as items without ids or fields, in listing order (videos too, so the
    run reports that it does not read them from object storage)."""
    line = 0
    for listed in list_s3(prefix_url, settings):
        if not (is_image_name(listed.location) or is_video_name(listed.location)):
            continue
        line += 1
        yield Item(location=listed.location, origin=prefix_url, line=line, digest=record_digest(listed.location, {}),
                   size=listed.size, modified_ns=int(listed.last_modified.timestamp() * 1e9))
