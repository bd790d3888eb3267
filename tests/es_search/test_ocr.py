"""Text inside images: what a document keeps of the recogniser's answer (pure), the gate's rule, and the real
PP-OCRv4 models (from rapidocr-onnxruntime's wheel) reading text drawn here in English and Chinese."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image

from demo.ocr_quality import char_accuracy
from demo.rendered_text import draw_text_image, text_free_photos
from es_search.decode import fit_working_size
from es_search.ocr.engine import GATE_MIN_EDGES, GATE_MIN_PIXELS, OcrEngine, edge_share, map_has_text
from es_search.ocr.lines import (
    MAX_LINES,
    OcrLine,
    document_fields,
    joined_text,
    line_matches,
    lines_from_result,
    relative_box,
)

# --------------------------------------------------------------------------- pure


def test_a_line_box_is_relative_to_the_image_and_clipped_to_it():
    assert relative_box([[10, 20], [110, 20], [110, 40], [10, 40]], 200, 100) == (0.05, 0.2, 0.5, 0.2)
    x, y, w, h = relative_box([[-5, -5], [250, -5], [250, 120], [-5, 120]], 200, 100)
    assert (x, y, w, h) == (0.0, 0.0, 1.0, 1.0)


def test_lines_keep_what_was_read_with_confidence_and_drop_the_unsure():
    result = [
        [[[0, 0], [50, 0], [50, 10], [0, 10]], "  invoice   4471 ", 0.98],
        [[[0, 20], [50, 20], [50, 30], [0, 30]], "leaves", 0.31],  # texture read as text: dropped
        [[[0, 40], [50, 40], [50, 50], [0, 50]], "发票金额", 0.91],
    ]
    lines = lines_from_result(result, 100, 100)
    assert [line.text for line in lines] == ["invoice 4471", "发票金额"]
    assert lines[0].box == (0.0, 0.0, 0.5, 0.1) and lines[0].confidence == pytest.approx(0.98)
    assert joined_text(lines) == "invoice 4471\n发票金额"
    assert lines_from_result(None, 10, 10) == []


def test_a_page_keeps_at_most_max_lines():
    result = [[[[0, i], [5, i], [5, i + 1], [0, i + 1]], f"line {i}", 0.9] for i in range(MAX_LINES + 50)]
    assert len(lines_from_result(result, 10, 10_000)) == MAX_LINES


def test_document_fields_say_whether_there_was_text():
    assert document_fields([]) == {"has_text": False}
    fields = document_fields([OcrLine("exit", (0.1, 0.2, 0.3, 0.05), 0.987654)])
    assert fields == {"has_text": True, "ocr_text": "exit",
                      "ocr_lines": [{"text": "exit", "box": [0.1, 0.2, 0.3, 0.05], "confidence": 0.988}]}


def test_the_gate_wants_a_region_of_confident_text_pixels_not_a_speck():
    empty = np.zeros((64, 64), dtype=np.float32)
    assert not map_has_text(empty)
    speck = empty.copy()
    speck[10, 10:10 + GATE_MIN_PIXELS - 1] = 0.99
    assert not map_has_text(speck)
    line = empty.copy()
    line[30:33, 5:40] = 0.9
    assert map_has_text(line)
    haze = np.full((64, 64), 0.35, dtype=np.float32)  # everything faintly text-like: a texture
    assert not map_has_text(haze)


def test_the_gate_skips_the_detector_where_there_are_no_edges_for_text():
    flat = Image.new("RGB", (300, 200), (200, 210, 220))
    assert edge_share(flat) == 0.0
    drawn = draw_text_image(1, random.Random(1), "en", "caption")
    assert edge_share(fit_working_size(drawn.image, 224, 256)) >= GATE_MIN_EDGES


# --------------------------------------------------------------------------- the real models


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    engine = OcrEngine()
    engine.load()
    return engine


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("kind", ["document", "sign", "caption", "screenshot"])
def test_the_engine_reads_drawn_text_in_english_and_chinese(engine, language, kind):
    drawn = draw_text_image(3, random.Random(f"{language}{kind}"), language, kind)
    lines = engine.read(drawn.image)
    read = joined_text(lines)
    assert char_accuracy(drawn.text, read) >= 0.85, (drawn.lines, read)
    for word in drawn.unique:  # the words a search looks for come out whole
        assert word in read.replace(" ", ""), (word, read)
    for line in lines:
        x, y, w, h = line.box
        assert 0 <= x <= 1 and 0 <= y <= 1 and 0 < w <= 1 and 0 < h <= 1 and 0.6 <= line.confidence <= 1


def test_the_gate_lets_text_through_and_stops_plain_photos(engine):
    rng = random.Random(3)
    with_text = [draw_text_image(i, rng, "en" if i % 2 else "zh", kind)
                 for i, kind in enumerate(["document", "sign", "caption", "screenshot"] * 3)]
    # The gate sees the working image the decode stage makes (224 px on the shorter side).
    assert all(engine.has_text(fit_working_size(t.image, 224, 256)) for t in with_text)
    photos = text_free_photos(12)
    passed = sum(engine.has_text(fit_working_size(p, 224, 256)) for p in photos)
    assert passed <= 1
    assert not engine.has_text(Image.new("RGB", (300, 200), (250, 250, 250)))


@pytest.mark.parametrize("line, query, matches", [
    ("第4题 一件商品原价250元", "第4题", True),
    ("又降价58元，现价多少元？", "第4题", False),
    ("在三角形ABC中，角A=35度", "三角形", True),
    ("角形 三", "三角形", False),  # its bigrams 三角 and 角形: 三角 is not there
    ("Invoice 4471 total", "invoice", True),
    ("stationbalancetotal", "balance", True),
    ("total amount", "balance due", False),
])
def test_a_line_is_marked_when_it_holds_a_word_of_the_search(line, query, matches):
    assert line_matches(line, query) is matches
