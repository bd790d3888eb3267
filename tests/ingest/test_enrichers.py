"""The enrichers: pixel facts (colours, scheme, brightness, saturation, perceptual hash), the zero-shot
category, and the one interface they share (what they need, which registry fields they add, their cost)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from es_search.config import Settings
from es_search.fields import load_registry
from ingest.enrichers import FACTORIES, build_enrichers
from ingest.enrichers.base import COSTS, NEEDS
from ingest.enrichers.category import CategoryEnricher
from ingest.enrichers.colors import color_facts, dominant_colors
from ingest.enrichers.phash import perceptual_hash
from tests.support.ingest_cases import scene


def solid(color, size=(100, 80)) -> Image.Image:
    return Image.new("RGB", size, color)


@pytest.mark.parametrize("color, scheme", [
    ((220, 60, 20), "warm"),  # red-orange
    ((240, 200, 30), "warm"),  # yellow
    ((20, 60, 200), "cool"),  # blue
    ((30, 160, 60), "cool"),  # green
    ((128, 128, 128), "neutral"),  # grey
    ((250, 250, 250), "neutral"),  # white
    ((10, 10, 10), "neutral"),  # black
])
def test_colour_scheme(color, scheme):
    assert color_facts(solid(color)).color_scheme == scheme


def test_mostly_grey_with_a_little_colour_is_neutral():
    image = solid((120, 120, 120))
    image.paste((255, 0, 0), (0, 0, 10, 10))  # about 1% red
    assert color_facts(image).color_scheme == "neutral"


def test_brightness_and_saturation_run_from_0_to_1():
    assert color_facts(solid((0, 0, 0))).brightness == 0.0
    assert color_facts(solid((255, 255, 255))).brightness == 1.0
    assert color_facts(solid((128, 128, 128))).saturation == 0.0
    assert color_facts(solid((255, 0, 0))).saturation == 1.0


def test_dominant_colours_come_most_common_first_as_hex():
    image = solid((0, 0, 255), (100, 100))
    image.paste((255, 0, 0), (0, 0, 100, 30))  # 30% red, 70% blue
    colors = dominant_colors(image)
    assert colors[:2] == ["#0000ff", "#ff0000"]
    assert all(len(c) == 7 and c.startswith("#") for c in colors)


def test_perceptual_hash_survives_resizing_and_tells_pictures_apart():
    picture = scene(1)
    original = perceptual_hash(picture)
    assert len(original) == 16

    def distance(a: str, b: str) -> int:  # differing bits; near-duplicates differ in a few at most
        return bin(int(a, 16) ^ int(b, 16)).count("1")

    assert distance(perceptual_hash(picture.resize((320, 240))), original) <= 4
    assert distance(perceptual_hash(scene(2)), original) > 12


def test_category_is_the_label_whose_text_vector_is_closest():
    labels = ["animal", "food", "sky"]
    label_vectors = np.eye(3, dtype=np.float32)
    scorer = CategoryEnricher(labels, label_vectors)
    images = np.array([[0.1, 0.9, 0.0], [0.0, 0.2, 0.98]], dtype=np.float32)
    (first, first_score), (second, second_score) = scorer.score(images)
    assert (first, second) == ("food", "sky")
    assert 0.5 < first_score <= 1.0 and 0.5 < second_score <= 1.0


def test_category_prompts_go_through_the_text_encoder_once():
    class RecordingEncoder:
        calls: list[list[str]] = []

        def encode_texts(self, texts):
            self.calls.append(list(texts))
            return np.eye(len(texts), dtype=np.float32)

    encoder = RecordingEncoder()
    scorer = CategoryEnricher.from_text_encoder(encoder, ["dog", "cat"])
    scorer.score(np.array([[1.0, 0.0]]))
    scorer.score(np.array([[0.0, 1.0]]))
    assert encoder.calls == [["a photo of dog", "a photo of cat"]]


def test_category_needs_vectors_of_the_same_size():
    scorer = CategoryEnricher(["a", "b"], np.eye(2, dtype=np.float32))
    with pytest.raises(ValueError, match="dims"):
        scorer.score(np.ones((1, 3), dtype=np.float32))


class UnitTextEncoder:
    def encode_texts(self, texts):
        return np.eye(len(texts), dtype=np.float32)


def test_every_enricher_says_what_it_needs_costs_and_adds_and_its_fields_are_in_the_registry():
    registry = load_registry()
    enrichers = build_enrichers(Settings(categories=("a", "b"), faces="on"), UnitTextEncoder())
    assert [e.name for e in enrichers] == list(FACTORIES)  # faces (off by default) asked for
    for enricher in enrichers:
        assert enricher.needs in NEEDS and enricher.cost in COSTS and enricher.fields
        for name in enricher.fields:
            spec = registry.get(name)
            assert spec is not None and spec.builtin, f"{enricher.name} writes {name}, which the registry lacks"


def test_pixel_enrichers_add_exactly_their_fields():
    for enricher in build_enrichers(Settings()):
        if enricher.needs == "vector":
            continue
        enricher.load()
        produced = set(enricher.enrich(scene(4)))
        if enricher.name == "ocr":  # a scene without text: only has_text, false (tests/ingest/test_ocr.py reads text)
            assert produced == {"has_text"}
        elif enricher.name == "phash_trimmed":  # a scene without a frame: nothing (tests/ingest/test_watchlist_refs.py)
            assert produced == set()
        else:
            assert produced == set(enricher.fields)
    category = CategoryEnricher(["x", "y"], np.eye(2, dtype=np.float32))
    assert [set(fields) for fields in category.enrich_vectors(np.eye(2, dtype=np.float32))] == \
        [set(category.fields)] * 2
