"""Search by a region: a box is x,y,w,h relative to the image, checked once, and cut from the decoded image."""

from __future__ import annotations

import pytest
from PIL import Image

from es_search.errors import QueryError
from es_search.search.regions import Box, crop, parse_box


def test_a_box_is_four_relative_numbers_inside_the_image():
    assert parse_box("0.25,0.5,0.5,0.25") == Box(0.25, 0.5, 0.5, 0.25)
    assert parse_box("0,0,1,1") == Box(0, 0, 1, 1)
    # Drawn to the edge with rounding: kept inside.
    assert parse_box("0.5,0.5,0.5000001,0.5") == Box(0.5, 0.5, 0.5, 0.5)


@pytest.mark.parametrize("raw", ["", "1,2,3", "0.1,0.1,0.2,0.2,0.3", "a,b,c,d", "nan,0,0.5,0.5", "inf,0,0.5,0.5",
                                 "-0.1,0,0.5,0.5", "0,0,0,0.5", "0,0,1.5,0.5", "0.6,0,0.5,0.5", "0,1,0.5,0.5"])
def test_anything_else_is_a_clear_400(raw):
    with pytest.raises(QueryError, match="box"):
        parse_box(raw)


def test_the_region_is_cut_from_the_image_and_never_comes_out_empty():
    image = Image.new("RGB", (200, 100), (0, 0, 0))
    image.paste((255, 0, 0), (100, 50, 200, 100))  # the lower right quarter is red
    region = crop(image, parse_box("0.5,0.5,0.5,0.5"))
    assert region.size == (100, 50) and region.getcolors() == [(5000, (255, 0, 0))]
    assert crop(image, parse_box("0.999,0.999,0.001,0.001")).size == (1, 1)


def test_a_box_goes_back_into_a_link_as_it_came():
    assert parse_box(parse_box("0.1234,0.5,0.25,0.125").to_param()) == Box(0.1234, 0.5, 0.25, 0.125)
    assert Box(0.0, 0.0, 1.0, 1.0).to_param() == "0,0,1,1"
