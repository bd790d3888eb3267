"""After a run's documents are acknowledged: check the newly indexed images against their neighbours.

`--on-near-duplicate` says what happens to a new image that is a near-duplicate of another:
- `index` (default): it stays and joins (or starts) that image's group;
- `report`: the same, and each such image is named in the run's log;
- `skip`: it is removed again and named in the log (so one copy is kept: an image indexed earlier, or
  the first of the run). Its file stays in the local record, so a rerun does not add it back.
The check runs once the run's documents are all acknowledged, through the core's `DuplicateFinder`; the
rule for which new image is skipped is `images_to_skip`, pure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from elasticsearch import Elasticsearch, helpers

from es_search.config import Settings
from es_search.duplicates.neighbours import Edge
from es_search.errors import RegroupNeeded

MODES = ("index", "skip", "report")


@dataclass
class NearDuplicateOutcome:
    found: int = 0  # new images with a near-duplicate
    skipped: int = 0  # of those, removed again (mode skip)
    lines: list[str] = field(default_factory=list)


def images_to_skip(new_in_order: Sequence[str], edges: Sequence[Edge]) -> list[str]:
    """New images to leave out: each that is a near-duplicate of an older image, or of a new one that came
    before it and is itself kept."""
    order = {doc_id: position for position, doc_id in enumerate(new_in_order)}
    neighbours: dict[str, set[str]] = {}
    for edge in edges:
        neighbours.setdefault(edge.a, set()).add(edge.b)
        neighbours.setdefault(edge.b, set()).add(edge.a)
    skipped: set[str] = set()
    for doc_id in new_in_order:
        for other in neighbours.get(doc_id, ()):
            older = other not in order
            earlier_kept = other in order and order[other] < order[doc_id] and other not in skipped
            if older or earlier_kept:
                skipped.add(doc_id)
                break
    return [doc_id for doc_id in new_in_order if doc_id in skipped]


def check_new_images(es: Elasticsearch, settings: Settings, since: str, mode: str,
                     log: Callable[[str], None] | None = None) -> NearDuplicateOutcome:
    """Group (or skip) the images indexed at or after `since`, as `mode` says."""
    from es_search.duplicates.service import DuplicateFinder

    if mode not in MODES:
        raise ValueError(f"on-near-duplicate must be one of {', '.join(MODES)}, got {mode!r}")
    finder = DuplicateFinder(es, settings)
    outcome = NearDuplicateOutcome()
    try:
        result = finder.find_since(since)
    except RegroupNeeded as exc:
        if log is not None:
            log(f"near-duplicates not checked: {exc}")
        return outcome
    with_pairs = {e.a for e in result.edges} | {e.b for e in result.edges}
    new_with_pairs = [doc_id for doc_id in result.checked if doc_id in with_pairs]
    outcome.found = len(new_with_pairs)
    if mode == "skip":
        skipped = images_to_skip(result.checked, result.edges)
        _delete(es, settings.index_alias, skipped)
        result.edges = [e for e in result.edges if e.a not in skipped and e.b not in skipped]
        outcome.skipped = len(skipped)
        outcome.lines = [f"near-duplicate skipped: {doc_id}" for doc_id in skipped]
    elif mode == "report":
        partners = {doc_id: sorted({e.b if e.a == doc_id else e.a for e in result.edges if doc_id in (e.a, e.b)})
                    for doc_id in new_with_pairs}
        outcome.lines = [f"near-duplicate: {doc_id} ~ {', '.join(others)}" for doc_id, others in partners.items()]
    finder.join(result, since)
    if log is not None:
        for line in outcome.lines:
            log(line)
    return outcome


def _delete(es: Elasticsearch, alias: str, ids: Sequence[str]) -> None:
    if ids:
        helpers.bulk(es, ({"_op_type": "delete", "_index": alias, "_id": doc_id} for doc_id in ids),
                     refresh="wait_for", raise_on_error=False)
