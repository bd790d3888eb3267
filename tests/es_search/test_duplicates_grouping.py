"""The pure parts of near-duplicate grouping: thresholds, hash confirmation, union-find, representatives."""

from __future__ import annotations

import pytest

from es_search.duplicates.grouping import (
    Thresholds,
    UnionFind,
    check_thresholds,
    choose_representative,
    confirmed,
    group_fields,
    groups_from_edges,
    phash_distance,
)
from es_search.duplicates.neighbours import Edge, Probe, edges_from_hits
from es_search.errors import QueryError


@pytest.mark.parametrize("similarity, distance", [(0.49, 10), (1.01, 10), (float("nan"), 10), ("x", 10),
                                                  (0.9, -1), (0.9, 33), (0.9, 2.5), (0.9, True)])
def test_thresholds_out_of_range_are_refused(similarity, distance):
    with pytest.raises(QueryError):
        check_thresholds(similarity, distance)


def test_a_pair_needs_both_close_vectors_and_close_hashes():
    rule = Thresholds(0.95, 4)
    assert phash_distance("ff00", "ff0f") == 4
    assert confirmed(0.96, "ff00", "ff0f", rule)
    assert not confirmed(0.94, "ff00", "ff00", rule)
    assert not confirmed(0.99, "ff00", "ff1f", rule)
    assert not confirmed(0.99, "ff00", None, rule) and not confirmed(0.99, "ff00", "zz00", rule)


def test_union_find_joins_chains_and_keeps_singletons_out():
    sets = UnionFind()
    for a, b in [("a", "b"), ("c", "d"), ("b", "c"), ("x", "y")]:
        sets.union(a, b)
    sets.find("alone")
    assert sets.groups() == [["a", "b", "c", "d"], ["x", "y"]]


def test_existing_groups_are_extended_and_merged_by_new_pairs():
    memberships = {"a": "g1", "b": "g1", "c": "g2", "d": "g2"}
    assert groups_from_edges([("new", "b"), ("new", "c")], memberships) == [["a", "b", "c", "d", "new"]]
    assert groups_from_edges([("new", "b")], {"a": "g1", "b": "g1"}) == [["a", "b", "new"]]


def test_the_representative_is_the_largest_then_the_oldest():
    members = {
        "small": {"width": 320, "height": 240, "byte_size": 10, "taken_at": "2001-01-01T00:00:00Z"},
        "big-new": {"width": 640, "height": 480, "byte_size": 50, "taken_at": "2020-01-01T00:00:00Z"},
        "big-old": {"width": 640, "height": 480, "byte_size": 50, "file_modified_at": "2010-01-01T00:00:00Z"},
    }
    assert choose_representative(members) == "big-old"
    fields = group_fields(members)
    assert {f["duplicate_group"] for f in fields.values()} == {"big-old"}
    assert [doc_id for doc_id, f in fields.items() if f["duplicate_representative"]] == ["big-old"]
    assert all(f["duplicate_count"] == 3 for f in fields.values())


def test_edges_from_a_knn_answer_leave_out_the_image_itself_and_unconfirmed_hashes():
    probe = Probe("m", [1.0, 0.0], "ffff0000ffff0000")
    hits = [{"_id": "m", "_score": 1.0, "_source": {"phash": "ffff0000ffff0000"}},
            {"_id": "a", "_score": 0.99, "_source": {"phash": "ffff0000ffff0001"}},
            {"_id": "z", "_score": 0.99, "_source": {"phash": "0000ffff0000ffff"}}]
    assert edges_from_hits(probe, hits, Thresholds(0.95, 10)) == [Edge("a", "m", 0.98)]

