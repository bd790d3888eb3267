"""The watchlist rules, pure: names and thresholds, which kNN hits and prompts are matches, which policy wins,
and how a scan merges one list's verdict into a document's fields."""

from __future__ import annotations

import numpy as np
import pytest

from es_search.errors import QueryError
from es_search.search.collapse import one_per_group
from es_search.visibility import HELD, is_hidden, visible_only
from es_search.watchlists.lists import Prompt, Watchlist, build_watchlist, strongest
from es_search.watchlists.matching import (
    MAX_MATCHES,
    Candidate,
    Match,
    Verdict,
    min_distance,
    prompt_matches,
    reference_matches,
    verdict_of,
)
from es_search.watchlists.scan import merged_fields

LISTS = {"flags": Watchlist("flags", "flag", 0.9, 12), "bans": Watchlist("bans", "refuse", 0.95, 8)}
CANDIDATE = Candidate(np.array([1.0, 0.0], dtype=np.float32), ("0000000000000000", "ffffffffffffffff"))


def _hit(name: str, cosine: float, hashes: list[str], reference: str = "r" * 64) -> dict:
    return {"_score": (1 + cosine) / 2, "_source": {"list": name, "reference": reference, "name": "known.jpg",
                                                     "phashes": hashes}}


def test_a_reference_matches_when_both_the_vector_and_a_hash_are_close():
    near_hash = "000000000000000f"  # 4 bits from the candidate's first hash
    matches = reference_matches(CANDIDATE, [_hit("flags", 0.93, ["aaaaaaaaaaaaaaaa", near_hash])], LISTS)
    assert [(m.list, m.policy, m.distance) for m in matches] == [("flags", "flag", 4)]
    assert reference_matches(CANDIDATE, [_hit("flags", 0.89, [near_hash])], LISTS) == [], "vector too far"
    assert reference_matches(CANDIDATE, [_hit("flags", 0.99, ["0f0f0f0f0f0f0f0f"])], LISTS) == [], "hash too far"
    assert reference_matches(CANDIDATE, [_hit("bans", 0.93, [near_hash])], LISTS) == [], "below the list's own 0.95"
    assert reference_matches(CANDIDATE, [_hit("gone", 0.99, [near_hash])], LISTS) == [], "a list deleted meanwhile"


def test_both_orientations_of_a_reference_are_one_match_the_closest():
    hits = [_hit("flags", 0.95, ["00000000000000ff"]), _hit("flags", 0.97, ["0000000000000001"])]
    (match,) = reference_matches(CANDIDATE, hits, LISTS)
    assert match.distance == 1 and match.similarity == pytest.approx(0.97)


def test_a_verdict_keeps_the_deciding_policy_and_the_closest_matches():
    many = [Match("flags", "flag", 0.95, f"{n:064x}", None, n % 12) for n in range(30)]
    banned = Match("bans", "refuse", 0.91, "b" * 64, None, 11)
    verdict = verdict_of([*many, banned])
    assert len(verdict.matches) == MAX_MATCHES and verdict.matches[0] is banned and verdict.refused
    assert [m.distance for m in verdict.matches[1:4]] == [0, 0, 0]


def test_min_distance_compares_every_hash_and_ignores_malformed_ones():
    assert min_distance(["ff", "0f"], ["00", "0e"]) == 1
    assert min_distance(["zz"], ["00"]) is None and min_distance([], ["00"]) is None


def test_prompts_match_at_their_own_threshold_and_only_in_their_model_space():
    flagged = Watchlist("words", "hold", 0.9, 12, (Prompt("a cat", 0.5, (0.6, 0.8)), Prompt("a dog", 0.7, (0.6, 0.8)),
                                                   Prompt("other model", 0.1, (1.0, 0.0, 0.0))))
    matches = prompt_matches(CANDIDATE, [flagged])
    assert [(m.prompt, round(m.similarity, 2)) for m in matches] == [("a cat", 0.6)]


def test_the_strongest_policy_decides_and_a_refusal_names_its_lists():
    verdict = Verdict((Match("flags", "flag", 0.95, "a" * 64, "x.jpg", 3), Match("bans", "refuse", 0.97, "b" * 64,
                                                                                 "banned.jpg", 2)))
    assert verdict.policy == "refuse" and verdict.refused
    assert verdict.fields()["watchlist_status"] == "refused" and verdict.lists == ["flags", "bans"]
    assert "watchlist bans" in verdict.message() and "banned.jpg" in verdict.message()
    assert Verdict().fields() == {} and Verdict().policy is None
    assert strongest(["flag", "hold"]) == "hold" and strongest([]) is None


def test_a_list_is_checked_and_its_prompts_are_unit_vectors():
    made = build_watchlist("nsfw", policy="hold", similarity=0.9, phash_distance=12,
                           prompts=[("nudity", 0.28)], encode=lambda texts: np.array([[3.0, 4.0]]))
    assert made.prompts[0].vector == pytest.approx((0.6, 0.8))
    for bad in ({"policy": "delete"}, {"similarity": 0.2}, {"phash_distance": 40}, {"phash_distance": True}):
        arguments = {"policy": "flag", "similarity": 0.9, "phash_distance": 12, **bad}
        with pytest.raises(QueryError):
            build_watchlist("fine", **arguments)
    for name in ("Upper", "", "-dash", "a" * 65, "space d", None):
        with pytest.raises(QueryError):
            build_watchlist(name, policy="flag", similarity=0.9, phash_distance=12)
    with pytest.raises(QueryError):
        build_watchlist("x", policy="flag", similarity=0.9, phash_distance=12, prompts=[("words", 0)])


def test_a_scan_merges_its_list_keeps_the_others_and_holds_instead_of_refusing():
    other = {"list": "flags", "policy": "flag", "similarity": 0.95, "reference": "a" * 64}
    source = {"watchlist_status": "flagged", "watchlists": ["flags"], "watchlist_matches": [other]}
    banned = Verdict((Match("bans", "refuse", 0.97, "b" * 64, "b.jpg", 2),))
    fields = merged_fields(source, "bans", banned)
    assert fields["watchlist_status"] == "held" and fields["watchlists"] == ["flags", "bans"]
    assert merged_fields({**source, **fields}, "bans", banned) is None, "the same verdict again changes nothing"
    cleared = merged_fields({**source, **fields}, "bans", Verdict())
    assert cleared["watchlists"] == ["flags"] and cleared["watchlist_status"] == "flagged"
    released = {**source, **fields, "watchlist_status": "released"}
    assert merged_fields(released, "bans", banned) is None, "a release stands while nothing new matches"
    assert merged_fields({}, "bans", Verdict()) is None


def test_held_images_are_left_out_of_every_kind_of_search_body():
    knn = visible_only({"knn": {"field": "v", "query_vector": [1], "k": 3, "filter": {"term": {"a": 1}}}})
    assert knn["knn"]["filter"] == {"bool": {"must": [{"term": {"a": 1}}], "must_not": [HELD]}}
    assert "query" not in knn, "a kNN search gains no query (that would make it hybrid)"
    keyword = visible_only({"query": {"match": {"t": "x"}}})["query"]["bool"]
    assert keyword == {"must": [{"match": {"t": "x"}}], "must_not": [HELD]}, "still scored: BM25 ranks by it"
    collapsed = one_per_group({"query": {"match": {"t": "x"}}})["query"]["bool"]
    assert collapsed["must"] == [{"match": {"t": "x"}}], "one image per group keeps the keyword ranking too"
    assert visible_only({"size": 0, "aggs": {}})["query"] == {"bool": {"must_not": [HELD]}}
    assert is_hidden({"watchlist_status": "held"}) and not is_hidden({"watchlist_status": "released"})
    assert not is_hidden(None)
