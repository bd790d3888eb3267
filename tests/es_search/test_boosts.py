"""Ranking signals: their text form and arithmetic (pure), and on a real node, with planted vectors and
fields whose right order is worked out here by hand, the order of the good matches under each signal."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from es_search.boosts import BadSignal, Signal, boost, half_life, merged, parse_signal, signals_of_entry
from es_search.errors import ConfigError, QueryError
from es_search.fields import load_registry, spec_from_entry
from es_search.index import delete_index
from es_search.search import SearchService
from es_search.search.ranking import order_good_first
from es_search.search.request import parse_search_request
from tests.es_search.test_search_service import DIMS, QUERY, unit_at
from tests.support.planted_index import planted_index

TYPES = {"in_stock": "boolean", "brand": "keyword", "price": "float", "rating": "float", "sales": "long",
         "released": "date", "title": "text"}
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def parse(text: str) -> Signal:
    return parse_signal(text, TYPES.get)


# --------------------------------------------------------------------------- the text form


def test_each_form_of_signal_reads_and_writes_back():
    assert parse("in_stock:true^1.2") == Signal("in_stock", "value", 1.2, value="true")
    assert parse("in_stock:TRUE").weight == 1.5, "a preferred value without a factor: 1.5"
    assert parse("brand:Acme^0.5") == Signal("brand", "value", 0.5, value="Acme")
    assert parse("price:reciprocal^2") == Signal("price", "reciprocal", 2.0)
    assert parse("sales:log") == Signal("sales", "log", 1.0)
    assert parse("released:30d^0.5") == Signal("released", "recency", 0.5, half_life_s=30 * 86_400)
    for text in ("in_stock:true^1.2", "brand:Acme^0.5", "price:reciprocal^2", "released:2w^1", "released:36h^3"):
        assert parse(parse(text).to_text()) == parse(text)
    assert half_life("1y") == 365.25 * 86_400


@pytest.mark.parametrize("text", ["in_stock", "nothing:log", "price:sqrt", "in_stock:maybe", "title:big",
                                  "released:soon", "released:0d", "price:log^0", "price:log^101", ":log", "brand:^2"])
def test_a_signal_that_cannot_rank_says_why(text):
    with pytest.raises(BadSignal):
        parse(text)


def test_the_factors_are_the_documented_functions():
    assert parse("price:linear^0.1").factor({"price": 5}, NOW)[0] == pytest.approx(1.5)
    assert parse("price:linear^0.1").factor({"price": -50}, NOW)[0] == 0.0, "never below 0"
    assert parse("sales:log^0.5").factor({"sales": 999}, NOW)[0] == pytest.approx(1 + 0.5 * 3)
    assert parse("sales:log^0.5").factor({"sales": -3}, NOW)[0] == 1.0
    assert parse("price:reciprocal^2").factor({"price": 3}, NOW)[0] == pytest.approx(1 + 2 / 4)
    recency = parse("released:10d^1")
    assert recency.factor({"released": NOW.isoformat()}, NOW)[0] == pytest.approx(2.0)
    assert recency.factor({"released": (NOW - timedelta(days=10)).isoformat()}, NOW)[0] == pytest.approx(1.5)
    assert recency.factor({"released": "2026-05-22"}, NOW)[0] == pytest.approx(1.5), "a day is its first moment"
    assert recency.factor({"released": (NOW + timedelta(days=3)).isoformat()}, NOW)[0] == 2.0, "the future is now"
    assert parse("brand:acme^2").factor({"brand": ["Zeta", "ACME"]}, NOW)[0] == 2.0, "any value, any case"
    assert parse("in_stock:false^0.5").factor({"in_stock": False}, NOW)[0] == 0.5
    for signal in ("price:log^3", "brand:acme^2", "released:10d^1", "in_stock:true^3"):
        assert parse(signal).factor({}, NOW)[0] == 1.0, "a document without the field is neither helped nor hurt"
    boosted = boost(0.8, {"price": 3, "brand": "acme"}, [parse("price:reciprocal^2"), parse("brand:acme^2")], NOW)
    assert boosted.score == pytest.approx(0.8 * 1.5 * 2)
    assert [s["factor"] for s in boosted.to_dict()["signals"]] == [1.5, 2.0]


def test_the_registry_declares_signals_and_refuses_bad_ones():
    assert signals_of_entry("in_stock", "boolean", {"values": {"true": 1.2}}) == [parse("in_stock:true^1.2")]
    assert signals_of_entry("sales", "long", {"function": "log", "weight": 0.5}) == [parse("sales:log^0.5")]
    assert signals_of_entry("released", "date", {"half_life": "30d"}) == [parse("released:30d^1")]
    for entry in ({"values": {"maybe": 2}}, {"function": "cube"}, {"half_life": "30d", "speed": 1}, {"weight": 2},
                  {"values": {"true": "big"}}):
        with pytest.raises(ConfigError):
            spec_from_entry({"name": "x", "type": "boolean" if "values" in entry else "long", "boost": entry},
                            builtin=False, source="schema.json")


def test_a_request_signal_replaces_the_registrys_for_the_same_field_and_value():
    declared = (parse("in_stock:true^1.2"), parse("sales:log^0.5"))
    given = (parse("in_stock:true^1"), parse("brand:acme^2"))
    assert merged(declared, given) == (parse("sales:log^0.5"), parse("in_stock:true^1"), parse("brand:acme^2"))


def test_signals_reorder_the_good_matches_only():
    order = order_good_first(["a", "b", "c", "d"], {"a", "b"}, {}, "boosted", {"a": 1.0, "b": 2.0})
    assert order == ["b", "a", "c", "d"]
    by_field = order_good_first(["a", "b", "c"], {"a", "b", "c"}, {"a": {"k": 1}, "b": {"k": 1}, "c": {"k": 0}}, "k",
                                {"a": 1.0, "b": 2.0, "c": 3.0})
    assert by_field == ["c", "b", "a"], "sorted by the field, ties in boosted order"


# --------------------------------------------------------------------------- on a real node

DAY = timedelta(days=1)
TODAY = datetime.now(UTC)
# id → (cosine with QUERY, fields). Four good matches close together, then a drop: the rest are not good.
GOOD = {
    "g1": (0.95, dict(price=100.0, rating=1.0, sales=10, in_stock=False, brand="Zeta", released=TODAY - 400 * DAY)),
    "g2": (0.94, dict(price=10.0, rating=3.0, sales=1000, in_stock=True, brand="Acme", released=TODAY - 10 * DAY)),
    "g3": (0.93, dict(price=50.0, rating=5.0, sales=0, in_stock=False, brand="Acme", released=TODAY - 5 * DAY)),
    "g4": (0.92, dict(rating=2.0, sales=100_000, in_stock=True, brand="Beta")),
}
# Below the cutoff, with every signal in its favour: it must never be pulled up among the good matches.
REST = {"l1": (0.30, dict(price=0.0, rating=100.0, sales=10**9, in_stock=True, brand="Acme", released=TODAY))}
REST |= {f"l{n}": (0.28 - 0.03 * n, {}) for n in range(2, 9)}
SCHEMA = [
    {"name": "price", "type": "float"}, {"name": "rating", "type": "float"}, {"name": "sales", "type": "long"},
    {"name": "in_stock", "type": "boolean", "boost": {"values": {"true": 1.2}}},
    {"name": "brand", "type": "keyword", "facet": True}, {"name": "released", "type": "date"},
]


def doc_id(name: str) -> str:
    return name.ljust(64, "0")


@pytest.fixture(scope="module")
def shop(es, base_settings, tmp_path_factory):
    documents = {}
    for axis, (name, (cosine, fields)) in enumerate({**GOOD, **REST}.items(), start=1):
        fields = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()}
        documents[doc_id(name)] = (unit_at(cosine, 1 + axis % (DIMS - 1)), fields)
    settings = planted_index(es, base_settings, tmp_path_factory.mktemp("shop"), SCHEMA, documents, DIMS,
                             "test-boosts")
    yield SearchService(es, settings)
    delete_index(es, settings.index_alias)


def ranked(service: SearchService, **params) -> list[str]:
    from es_search.search.request import encode_vector

    request = parse_search_request({"vec": encode_vector(QUERY), "size": "12", **params}, service.settings,
                                   service.registry)
    result = service.search(request)
    assert result.cutoff.good == 4, "the planted drop is where the good matches end"
    names = [hit.id[:2] for hit in result.hits]
    assert set(names[:4]) == set(GOOD) and names.index("l1") == 4, "signals never pull in a result from below"
    return names[:4]


@pytest.mark.parametrize(("signal", "expected"), [
    # relevance (1 + cos) / 2: g1 .975, g2 .97, g3 .965, g4 .96; each case's scores in its comment.
    ("rating:linear^0.1", ["g3", "g2", "g4", "g1"]),  # × 1.1, 1.3, 1.5, 1.2 → 1.07, 1.26, 1.45, 1.15
    ("sales:log^0.5", ["g4", "g2", "g1", "g3"]),  # × 1.52, 2.5, 1, 3.5 → 1.48, 2.43, .965, 3.36
    ("price:reciprocal^10", ["g2", "g3", "g1", "g4"]),  # × 1.10, 1.91, 1.20, 1 (no price) → 1.07, 1.85, 1.15, .96
    ("released:30d^1", ["g3", "g2", "g1", "g4"]),  # × 1.0001, 1.79, 1.89, 1 → .975, 1.74, 1.83, .96
    ("brand:acme^1.5", ["g2", "g3", "g1", "g4"]),  # g2, g3 × 1.5 → 1.455, 1.4475
    ("brand:ZETA^0.5", ["g2", "g3", "g4", "g1"]),  # g1 × 0.5 → .4875
])
def test_each_signal_gives_the_order_worked_out_by_hand(shop, signal, expected):
    # The registry's in_stock:true^1.2 is neutralised (a request's signal replaces it) to see one at a time.
    assert ranked(shop, boost=[signal, "in_stock:true^1"]) == expected


def test_the_registrys_signal_is_the_default_and_relevance_turns_it_off(shop):
    assert ranked(shop) == ["g2", "g4", "g1", "g3"], "in_stock:true^1.2: .97 × 1.2, .96 × 1.2, then .975, .965"
    assert ranked(shop, sort="relevance") == ["g1", "g2", "g3", "g4"]
    assert ranked(shop, sort="relevance", boost="rating:linear^0.1") == ["g1", "g2", "g3", "g4"]


def test_signals_combine_and_break_the_ties_of_a_sort(shop):
    both = ranked(shop, boost=["rating:linear^0.1", "price:reciprocal^10"])
    scores = {"g1": .975 * 1.1 * (1 + 10 / 101), "g2": .97 * 1.3 * (1 + 10 / 11) * 1.2,
              "g3": .965 * 1.5 * (1 + 10 / 51), "g4": .96 * 1.2 * 1.2}
    assert both == sorted(scores, key=lambda name: -scores[name])
    assert ranked(shop, sort="brand", boost=["rating:linear^0.1", "in_stock:true^1"]) == ["g3", "g2", "g4", "g1"], \
        "brand A→Z; within Acme, rating's boost decides"


def test_explain_shows_each_signals_part(shop):
    from es_search.search.request import encode_vector

    request = parse_search_request({"vec": encode_vector(QUERY), "boost": "sales:log^0.5", "explain": "true"},
                                   shop.settings, shop.registry)
    hits = {hit.id[:2]: hit for hit in shop.search(request).hits}
    explained = hits["g2"].explain["boost"]
    assert explained["relevance"] == pytest.approx(0.97, abs=1e-3)
    assert [(s["signal"], s["value"]) for s in explained["signals"]] == [("in_stock:true^1.2", True),
                                                                          ("sales:log^0.5", 1000)]
    assert [s["factor"] for s in explained["signals"]] == pytest.approx([1.2, 1 + 0.5 * math.log10(1001)])
    assert hits["g2"].to_dict()["boosted_score"] == pytest.approx(explained["score"])
    assert hits["l1"].boost is None and "boost" not in hits["l1"].explain, "only good matches are boosted"


def test_hybrid_mode_boosts_its_fused_good_matches(shop):
    from es_search.search.request import encode_vector

    request = parse_search_request({"vec": encode_vector(QUERY), "words": "g2", "boost": "rating:linear^1",
                                    "explain": "true"}, shop.settings, shop.registry)
    result = shop.search(request)
    good = [hit for hit in result.hits if hit.good_match]
    assert result.mode == "hybrid" and good
    scores = [hit.explain["boost"]["score"] for hit in good]
    assert scores == sorted(scores, reverse=True)
    assert all(hit.explain["boost"]["relevance"] == pytest.approx(hit.score, abs=1e-6) for hit in good), "the fused score"


def test_a_bad_signal_is_a_clear_400(shop):
    with pytest.raises(QueryError, match="boost: 'price:cube'"):
        parse_search_request({"q": "x", "boost": "price:cube"}, shop.settings, shop.registry)
    with pytest.raises(QueryError, match="at most 10"):
        parse_search_request({"q": "x", "boost": [f"price:log^{n + 1}" for n in range(11)]}, shop.settings,
                             shop.registry)


def test_links_keep_the_signals_and_a_chosen_relevance(shop):
    request = parse_search_request({"q": "x", "boost": "price:log^2"}, shop.settings, shop.registry)
    assert request.sort == "boosted" and ("boost", "price:log^2") in request.to_params()
    assert not any(name == "sort" for name, _ in request.to_params()), "the default is not written"
    plain = parse_search_request({"q": "x", "sort": "relevance"}, shop.settings, shop.registry)
    assert ("sort", "relevance") in plain.to_params(), "relevance is not this registry's default"
    assert load_registry().signals() == (), "the built-in fields declare no signal"
