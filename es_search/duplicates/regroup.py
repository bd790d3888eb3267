"""The full grouping pass and the incremental check: scan, find confirmed pairs, union them, write groups.

Full pass (`regroup`): every image asks for its few nearest neighbours (`_msearch` batches), confirmed
pairs go to the edges file, and the scan position is saved after each batch, so an interrupted pass
resumes where it stopped (`state`). Union-find over all pairs gives the groups, written onto their members;
members of groups that no longer exist are cleared. Never a comparison of every pair: n × k candidates.

Incremental (`check_images`): the images indexed since a moment ask the same question; their pairs are
unioned with the groups their neighbours already belong to. Only a change of thresholds needs a full pass,
and that is refused here with RegroupNeeded rather than mixing groups made under two rules.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from elasticsearch import Elasticsearch

from es_search.duplicates.grouping import Thresholds, groups_from_edges
from es_search.duplicates.neighbours import Edge, confirmed_edges
from es_search.duplicates.state import GroupingState, StateFiles
from es_search.duplicates.store import (
    desired_fields,
    grouped_ids,
    members_of,
    scan_probes,
    sources_of,
    write_group_fields,
)
from es_search.errors import RegroupNeeded

Progress = Callable[[int], None]


@dataclass
class GroupingSummary:
    images: int = 0
    pairs: int = 0
    groups: int = 0
    grouped_images: int = 0
    updated: int = 0
    seconds: float = 0.0
    resumed_at: int = 0
    thresholds: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def regroup(es: Elasticsearch, index: str, files: StateFiles, thresholds: Thresholds, *, neighbours: int,
            batch: int, progress: Progress | None = None, restart: bool = False) -> GroupingSummary:
    """Group every image of `index` (a physical index), resuming an interrupted pass with the same settings."""
    started = time.perf_counter()
    state = files.load()
    if restart or state is None or not state.matches(index, thresholds.to_dict(), neighbours) \
            or state.phase == "done":
        state = GroupingState(index=index, thresholds=thresholds.to_dict(), neighbours=neighbours,
                              started_at=now_iso())
        files.reset_edges()
        files.save(state)
    summary = GroupingSummary(resumed_at=state.scanned, thresholds=thresholds.to_dict())
    if progress is not None and state.scanned:
        progress(state.scanned)
    while state.phase == "scan":
        probes, last = scan_probes(es, index, after=state.cursor, size=batch)
        if not probes:
            state.phase = "write"
            files.save(state)
            break
        files.append_edges(confirmed_edges(es, index, probes, neighbours=neighbours, thresholds=thresholds))
        state.cursor, state.scanned = last, state.scanned + len(probes)
        files.save(state)
        if progress is not None:
            progress(len(probes))
    edges = list(files.read_edges())
    groups = groups_from_edges((e.a, e.b) for e in edges)
    wanted, current = desired_fields(es, index, groups)
    stale = [doc_id for doc_id in grouped_ids(es, index) if doc_id not in wanted]
    summary.updated = write_group_fields(es, index, wanted, current, clear=stale)
    state.phase, state.checked_until = "done", state.started_at
    files.save(state)
    summary.images, summary.pairs = state.scanned, len({(e.a, e.b) for e in edges})
    summary.groups, summary.grouped_images = len({f["duplicate_group"] for f in wanted.values()}), len(wanted)
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def check_thresholds_unchanged(files: StateFiles, index: str, thresholds: Thresholds, neighbours: int) -> GroupingState:
    """The saved state when it was built with these thresholds (or a fresh one when there is none yet);
    RegroupNeeded when the thresholds changed since the groups were made."""
    state = files.load()
    if state is None or state.index != index:
        return GroupingState(index=index, thresholds=thresholds.to_dict(), neighbours=neighbours, phase="done")
    if state.thresholds != thresholds.to_dict():
        raise RegroupNeeded(f"the near-duplicate groups of {index} were made with {state.thresholds}; the settings "
                            f"now say {thresholds.to_dict()}: run `imgsearch duplicates --regroup` to rebuild them")
    return state


@dataclass
class CheckResult:
    """What an incremental check found: the images checked, their confirmed pairs, the documents updated."""

    checked: list[str] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    updated: int = 0


def find_new_edges(es: Elasticsearch, index: str, since: str, thresholds: Thresholds, *, neighbours: int,
                   batch: int) -> CheckResult:
    """Confirmed pairs around every image indexed at or after `since`, in indexing order."""
    result = CheckResult()
    query = {"range": {"indexed_at": {"gte": since}}}
    after = None
    while True:
        probes, after = scan_probes(es, index, after=after, size=batch, query=query,
                                    sort=[{"indexed_at": "asc"}, {"sha256": "asc"}])
        if not probes:
            return result
        result.checked += [p.id for p in probes]
        result.edges += confirmed_edges(es, index, probes, neighbours=neighbours, thresholds=thresholds)


def apply_edges(es: Elasticsearch, index: str, edges: list[Edge]) -> int:
    """Join the pairs' images into groups, extending (and merging) the groups they already belong to."""
    if not edges:
        return 0
    involved = {e.a for e in edges} | {e.b for e in edges}
    current_groups = {doc_id: src["duplicate_group"]
                      for doc_id, src in _group_sources(es, index, involved).items() if src.get("duplicate_group")}
    memberships = members_of(es, index, current_groups.values()) if current_groups else {}
    groups = groups_from_edges(((e.a, e.b) for e in edges), memberships)
    wanted, current = desired_fields(es, index, groups)
    return write_group_fields(es, index, wanted, current)


def _group_sources(es: Elasticsearch, index: str, ids) -> dict[str, dict]:
    return sources_of(es, index, ids, ["duplicate_group"])


def record_checked(files: StateFiles, state: GroupingState, since: str) -> None:
    """Remember that images indexed before `since` are checked (never moves the mark backwards)."""
    if state.checked_until is None or _moment(since) > _moment(state.checked_until):
        state.checked_until = since
    files.save(state)


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
