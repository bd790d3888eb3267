"""The hashes a reference image is known by, and the hash inside a frame (pure, on generated pictures)."""

from __future__ import annotations

from PIL import Image, ImageOps

from es_search.duplicates.grouping import phash_distance
from ingest.enrichers.phash import TrimmedHashEnricher, inside_frame, perceptual_hash
from ingest.watchlist_refs import CROP_SHARES, reference_hashes
from tests.support.image_families import original
from tests.support.watchlist_families import copy_of


def test_a_reference_is_known_by_both_orientations_whole_and_cropped():
    image = original(41)
    hashes = reference_hashes(image)
    assert perceptual_hash(image) in hashes and perceptual_hash(ImageOps.mirror(image)) in hashes
    assert 2 < len(hashes) <= 2 * len(CROP_SHARES)


def test_a_frame_is_trimmed_and_hashes_like_the_picture_inside():
    picture = original(42)
    framed, _ = copy_of(picture, "framed")
    inner = inside_frame(framed)
    assert inner is not None
    assert abs(inner.size[0] / inner.size[1] - picture.size[0] / picture.size[1]) < 0.02, "the frame, and only it"
    trimmed = TrimmedHashEnricher().enrich(framed)["phash_trimmed"]
    assert phash_distance(trimmed, perceptual_hash(picture)) <= 4
    assert phash_distance(perceptual_hash(framed), perceptual_hash(picture)) > 12, "untrimmed, the frame hides it"


def test_pictures_without_a_frame_get_no_second_hash():
    assert TrimmedHashEnricher().enrich(original(43)) == {}
    assert inside_frame(Image.new("RGB", (200, 100), (255, 255, 255))) is None, "one colour all over"
