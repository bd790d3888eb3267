"""The faces core without a node: the engine on real photos (a face, a blurred one, a small one), the
people rule (union-find, joining the closest known person, never merging two known people) and the face
search's merging of answers."""

from __future__ import annotations

import pytest
from PIL import Image, ImageFilter

from es_search.faces import engine as faces_engine
from es_search.faces.people import FaceMatch, assign_people, is_person_id, new_person_id, people_of
from es_search.faces.store import distance_from_score, face_neighbours_body, matches_from_hits
from es_search.search.face_search import best_per_image
from tests.support.face_photos import face_photos

needs_models = pytest.mark.skipif(not faces_engine.faces_available(), reason="needs `make setup-faces`")


@pytest.fixture(scope="module")
def photos(base_settings):
    return {name: Image.open(path).convert("RGB") for name, path in face_photos(base_settings.es_cache_dir).items()}


@needs_models
def test_a_sharp_face_gets_a_descriptor_and_a_blurred_or_small_one_only_its_box(photos, monkeypatch):
    engine = faces_engine.shared_face_engine()
    [face] = engine.faces(photos["obama.jpg"])
    assert face.quality == "ok" and len(face.vector) == 128 and face.score > faces_engine.MIN_SCORE
    [blurred] = engine.faces(photos["obama.jpg"].filter(ImageFilter.GaussianBlur(10)))
    assert blurred.quality == "blurred" and blurred.vector is None
    # The detector finds faces down to about 36 px, which still compare well; a floor above a face's width
    # keeps its box without a descriptor.
    monkeypatch.setattr(faces_engine, "MIN_FACE_SIDE", 60)
    found = engine.faces(photos["obama.jpg"].resize((200, 250)))  # the face about 52 px wide
    assert [f.quality for f in found] == ["small"] and found[0].vector is None
    assert engine.faces(Image.new("RGB", (640, 480), (120, 160, 200))) == []


@needs_models
def test_the_same_person_is_closer_than_the_threshold_and_another_is_not(photos, base_settings):
    engine = faces_engine.shared_face_engine()
    vectors = {name: engine.faces(image)[0].vector for name, image in photos.items()}

    def distance(a, b):
        return sum((x - y) ** 2 for x, y in zip(vectors[a], vectors[b], strict=True)) ** 0.5

    same = [distance("obama.jpg", "obama2.jpg"), distance("obama.jpg", "obama3.jpg"), distance("obama2.jpg", "obama3.jpg")]
    other = [distance("biden.jpg", name) for name in ("obama.jpg", "obama2.jpg", "obama3.jpg")]
    assert max(same) < base_settings.face_match_distance < min(other)


def test_sharpness_tells_a_textured_patch_from_a_flat_one():
    import numpy as np

    rng = np.random.default_rng(1)
    assert faces_engine.sharpness(rng.integers(0, 255, (150, 150)).astype(np.uint8)) > 100
    assert faces_engine.sharpness(np.full((150, 150), 128, np.uint8)) == 0


def test_a_box_is_relative_and_clipped_to_the_image():
    assert faces_engine.relative_box(-10, 20, 40, 70, 100, 200) == (0.0, 0.1, 0.4, 0.25)


def test_new_faces_that_match_each_other_become_one_new_person():
    people = assign_people(["b#0", "a#0", "c#0"], [FaceMatch("a#0", "b#0", 0.3), FaceMatch("c#0", "c#0", 0.0)], 0.6)
    assert people["a#0"] == people["b#0"] == new_person_id("a#0") and people["c#0"] == new_person_id("c#0")
    assert is_person_id(people["a#0"]) and not is_person_id("Barack")


def test_a_set_of_new_faces_joins_the_closest_known_person_and_never_merges_two_known_people():
    matches = [FaceMatch("x#0", "y#0", 0.2), FaceMatch("x#0", "old#0", 0.5, "p-aaaaaaaaaaaa"),
               FaceMatch("y#0", "old#1", 0.4, "p-bbbbbbbbbbbb"), FaceMatch("y#0", "far#0", 0.7, "p-cccccccccccc")]
    people = assign_people(["x#0", "y#0"], matches, 0.6)
    assert people == {"x#0": "p-bbbbbbbbbbbb", "y#0": "p-bbbbbbbbbbbb"}


def test_an_image_lists_each_person_once():
    assert people_of([{"person": "p-2"}, {"person": "p-1"}, {"person": "p-2"}, {}]) == ["p-1", "p-2"]


def test_elasticsearch_scores_turn_back_into_distances():
    assert distance_from_score(1 / (1 + 0.36)) == pytest.approx(0.6)
    body = face_neighbours_body([0.0] * 128, 0.6)
    assert body["knn"]["similarity"] == 0.6 and body["knn"]["field"] == "faces.vector"


def inner(offset: int, distance: float, person=None) -> dict:
    return {"_nested": {"field": "faces", "offset": offset}, "_score": 1 / (1 + distance ** 2),
            "_source": {"person": person, "box": [0.1, 0.1, 0.2, 0.2]}}


def test_a_kNN_answer_becomes_matches_without_the_face_itself():
    hits = [{"_id": "a", "inner_hits": {"faces": {"hits": {"hits": [inner(0, 0.0), inner(1, 0.5, "p-x")]}}}}]
    assert matches_from_hits("a#0", hits, 0.6) == [FaceMatch("a#0", "a#1", 0.5, "p-x")]


def test_answers_for_several_query_faces_merge_to_each_image_once_at_its_closest_face():
    answers = [[{"_id": "a", "inner_hits": {"faces": {"hits": {"hits": [inner(0, 0.5)]}}}}],
               [{"_id": "a", "inner_hits": {"faces": {"hits": {"hits": [inner(2, 0.2)]}}}},
                {"_id": "b", "inner_hits": {"faces": {"hits": {"hits": [inner(0, 0.3)]}}}}]]
    merged = best_per_image(answers)
    assert [(h.id, round(h.distance, 3), h.query_face) for h in merged] == [("a", 0.2, 1), ("b", 0.3, 1)]
