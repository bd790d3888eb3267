"""Force-merge the indices behind the alias into few segments, watching the merge: `imgsearch index optimize`.

An ingest leaves an index in many segments. A kNN search walks one HNSW graph per segment, each with the
full `num_candidates`, so many segments cost latency (and give a little extra recall); one segment is the
fastest state to search. Run it once after a large load or a large batch of deletes, when writes have
stopped: an index that keeps changing merges on its own, and a force-merged giant segment is not merged
again until it holds many deletes.

The merge runs as an Elasticsearch task (`wait_for_completion=false`), polled until done, so a client
timeout never cuts it short; if the client loses the cluster, the merge goes on inside Elasticsearch.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from elasticsearch import Elasticsearch
from elasticsearch.exceptions import GeneralAvailabilityWarning

from es_search.errors import ClusterUnavailable, IndexMissing
from es_search.index import indices_behind


@dataclass(frozen=True)
class MergeState:
    """What the indices look like now: searchable segments, live documents, documents in running merges."""

    seconds: float
    segments: int
    documents: int
    merging_documents: int


def merge_state(es: Elasticsearch, indices: list[str], started: float, clock: Callable[[], float]) -> MergeState:
    stats = es.indices.stats(index=",".join(indices), metric="segments,merge,docs")["_all"]["primaries"]
    return MergeState(seconds=round(clock() - started, 1), segments=stats["segments"]["count"],
                      documents=stats["docs"]["count"], merging_documents=stats["merges"]["current_docs"])


def optimize(es: Elasticsearch, alias: str, max_segments: int = 1,
             on_progress: Callable[[MergeState], None] | None = None, poll_seconds: float = 2.0,
             clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> dict:
    """Merge every index behind `alias` down to at most `max_segments` segments per shard; the states before
    and after. `on_progress` sees the state at each poll. IndexMissing without an index behind the alias."""
    if max_segments < 1:
        raise ValueError(f"max_segments must be 1 or more, got {max_segments}")
    indices = indices_behind(es, alias)
    if not indices:
        raise IndexMissing(f"no index behind alias {alias!r} to optimize")
    started = clock()
    before = merge_state(es, indices, started, clock)
    es.indices.refresh(index=",".join(indices))  # merge what was written too, not only what was searchable
    task = es.indices.forcemerge(index=",".join(indices), max_num_segments=max_segments,
                                 wait_for_completion=False)["task"]
    while True:
        with warnings.catch_warnings():  # the task API is marked "technical preview"; it has been stable for years
            warnings.simplefilter("ignore", GeneralAvailabilityWarning)
            status = es.tasks.get(task_id=task)
        if status.get("completed"):
            break
        if on_progress is not None:
            on_progress(merge_state(es, indices, started, clock))
        sleep(poll_seconds)
    failures = (status.get("response") or {}).get("_shards", {}).get("failures") or status.get("error")
    if failures:
        raise ClusterUnavailable(f"Elasticsearch could not force-merge {', '.join(indices)}: {failures}")
    es.indices.refresh(index=",".join(indices))
    after = merge_state(es, indices, started, clock)
    if on_progress is not None:
        on_progress(after)
    return {"alias": alias, "indices": indices, "max_segments": max_segments,
            "segments_before": before.segments, "segments_after": after.segments,
            "documents": after.documents, "seconds": after.seconds}
