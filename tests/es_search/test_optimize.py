"""`imgsearch index optimize`: an index left in several segments is merged into one, every document kept."""

from __future__ import annotations

import pytest

from es_search.errors import IndexMissing
from es_search.index import VECTOR_FIELD, ensure_index, index_info
from es_search.optimize import MergeState, optimize

DIMS = 4


def _load_in_batches(es, alias: str, batches: int, per_batch: int) -> None:
    """Each refresh writes the batch as a segment of its own."""
    for batch in range(batches):
        for n in range(per_batch):
            vector = [float(batch + 1), float(n + 1), 1.0, 0.5]
            es.index(index=alias, id=f"{batch}-{n}", document={"sha256": f"{batch}-{n}", VECTOR_FIELD: vector})
        es.indices.refresh(index=alias)


def _nearest(es, alias: str) -> list[str]:
    knn = {"field": VECTOR_FIELD, "query_vector": [1.0, 2.0, 1.0, 0.5], "k": 5, "num_candidates": 50}
    return [hit["_id"] for hit in es.search(index=alias, knn=knn, source=False)["hits"]["hits"]]


def test_optimize_merges_into_one_segment_and_keeps_every_document(es, settings):
    ensure_index(es, settings, DIMS)
    _load_in_batches(es, settings.index_alias, batches=4, per_batch=5)
    assert index_info(es, settings.index_alias)["segments"] >= 4
    nearest = _nearest(es, settings.index_alias)
    seen: list[MergeState] = []

    report = optimize(es, settings.index_alias, on_progress=seen.append, poll_seconds=0.05)

    assert report["segments_before"] >= 4 and report["segments_after"] == 1
    assert report["documents"] == 20 and report["seconds"] >= 0
    assert seen and seen[-1].segments == 1 and seen[-1].documents == 20
    info = index_info(es, settings.index_alias)
    assert info["segments"] == 1 and info["documents"] == 20
    assert _nearest(es, settings.index_alias) == nearest  # the same answers from the merged graph


def test_optimize_refuses_a_missing_index_and_a_zero_target(es, settings):
    with pytest.raises(IndexMissing, match="no index behind alias"):
        optimize(es, settings.index_alias)
    ensure_index(es, settings, DIMS)
    with pytest.raises(ValueError, match="max_segments must be 1 or more"):
        optimize(es, settings.index_alias, max_segments=0)
