"""Recommendations: the weights a visitor's history gives (pure), and on a real node, with planted vectors
whose right answer numpy computes independently, the ranking the service returns."""

from __future__ import annotations

import numpy as np
import pytest
from elasticsearch import helpers

from es_search.errors import QueryError
from es_search.fields import VECTOR_FIELD
from es_search.index import ensure_index
from es_search.search.recommend import (
    DEFAULT_HALF_LIFE,
    MAX_SIGNALS,
    Feedback,
    Signal,
    image_weights,
    recommend_model,
)
from es_search.search.request import SearchRequest
from es_search.search.service import SearchService


def _feedback(viewed=(), liked=(), disliked=(), half_life=DEFAULT_HALF_LIFE) -> Feedback:
    def signals(given):
        return tuple(Signal(*item) if isinstance(item, tuple) else Signal(item) for item in given)

    return Feedback(signals(viewed), signals(liked), signals(disliked), half_life)


def test_views_fade_with_their_place_likes_weigh_twice_and_dislikes_pull_away():
    weights = image_weights(_feedback(viewed=["v0", "v1", "v4", "v3", "v8"], liked=["l0"], disliked=["d0", "d1"],
                                      half_life=4))
    assert weights["v0"] == 1.0 and weights["l0"] == 2.0
    assert weights["v8"] == pytest.approx(0.5 ** (4 / 4)), "the fifth most recent view counts half"
    assert weights["d0"] == weights["d1"] == -1.0, "a dislike does not fade"
    assert list(weights)[0] == "l0", "strongest first"


def test_given_weights_repeats_and_the_limit():
    weights = image_weights(_feedback(viewed=[("a", 3.0), "b"], liked=["b"], disliked=[("c", 2.5)]))
    assert weights == {"a": 3.0, "b": pytest.approx(0.5 ** (1 / DEFAULT_HALF_LIFE) + 2.0), "c": -2.5}
    assert image_weights(_feedback(viewed=["x"], disliked=["x"])) == {}, "a view and a dislike of one image cancel"
    many = image_weights(_feedback(viewed=[f"i{n}" for n in range(40)]))
    assert len(many) == MAX_SIGNALS and "i15" in many and "i16" not in many
    with pytest.raises(QueryError):
        image_weights(_feedback(viewed=["a"], half_life=0))


def test_the_request_needs_something_to_be_like(base_settings):
    from es_search.fields import registry_for

    registry = registry_for(base_settings)
    body = recommend_model(base_settings, registry, text=False)
    with pytest.raises(ValueError):
        body.model_validate({"disliked": ["a"]})
    parsed = body.model_validate({"liked": ["a", {"id": "b", "weight": 2}], "half_life": 2})
    assert parsed.liked[1].weight == 2.0
    assert "anyOf" in body.model_json_schema()
    assert "viewed" in recommend_model(base_settings, registry).model_json_schema()["required"]


DIMS, COUNT = 8, 40


@pytest.fixture
def planted(es, settings):
    """COUNT documents with seeded random unit vectors, straight into an index of the real mapping."""
    ensure_index(es, settings, DIMS)
    vectors = np.random.default_rng(3).standard_normal((COUNT, DIMS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"p{n:02d}" for n in range(COUNT)]
    helpers.bulk(es, ({"_index": settings.index_alias, "_id": image, "_source": {
        "image_id": image, "title": image, VECTOR_FIELD: [float(x) for x in vector]}}
        for image, vector in zip(ids, vectors, strict=True)), refresh=True)
    return dict(zip(ids, vectors, strict=True))


def test_the_ranking_is_the_weighted_sum_of_the_history_with_the_history_left_out(es, settings, planted):
    feedback = _feedback(viewed=["p01", "p02", "p03"], liked=["p04"], disliked=["p05"])
    query = sum(weight * planted[image] for image, weight in image_weights(feedback).items())
    query /= np.linalg.norm(query)
    seen = set(feedback.seen())
    expected = sorted((image for image in planted if image not in seen), key=lambda image: -float(planted[image] @ query))
    service = SearchService(es, settings)
    result = service.recommend(feedback, SearchRequest(size=10))
    assert [hit.id for hit in result.hits] == expected[:10]
    assert [hit.similarity for hit in result.hits] == pytest.approx([float(planted[i] @ query) for i in expected[:10]],
                                                                    abs=1e-4)
    second = service.recommend(feedback, SearchRequest(size=10, page=2))
    assert [hit.id for hit in second.hits] == expected[10:20]


def test_old_history_and_images_gone_are_passed_over(es, settings, planted):
    service = SearchService(es, settings)
    with_ghost = service.recommend(_feedback(viewed=["gone-01", "p01"]), SearchRequest(size=5))
    alone = service.recommend(_feedback(viewed=["p01"]), SearchRequest(size=5))
    assert [h.id for h in with_ghost.hits] == [h.id for h in alone.hits] and "p01" not in {h.id for h in alone.hits}
    nothing = service.recommend(_feedback(viewed=["gone-01"], disliked=["p02"]), SearchRequest(size=5))
    assert nothing.hits == [] and "nothing to recommend" in nothing.notice
