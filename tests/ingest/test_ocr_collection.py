"""The text-in-images targets, on the whole drawn collections: 200 images (documents, screenshots, signs and
captioned photos, English and Chinese, several sizes, small tilts) ingested with OCR, each word that one
image alone holds searched in text mode; a bank of 200 printed questions written through the write API and
phone photos of 30 of them searched as images. The image model is the tiny random one: the words carry it.
Targets: top 3 ≥ 0.95 (English), ≥ 0.90 (Chinese); question photos at rank 1 ≥ 0.90, in the top 5 ≥ 0.98."""

from __future__ import annotations

import pytest

from demo.ocr_quality import question_photos, word_search
from demo.rendered_text import question_bank, text_collection


@pytest.fixture
def ocr_settings(tiny_settings):
    return tiny_settings.with_overrides(ocr="auto")


def test_a_word_written_in_one_image_finds_it_in_english_and_chinese(ocr_settings, es, tmp_path):
    figures = word_search(ocr_settings, es, text_collection(200, seed=7), tmp_path)
    print(figures)
    assert figures["indexed"] == 200 and figures["queries_en"] == figures["queries_zh"] == 200
    assert figures["top3_en"] >= 0.95 and figures["top3_zh"] >= 0.90
    assert figures["stored_char_accuracy_en"] >= 0.95 and figures["stored_char_accuracy_zh"] >= 0.95


def test_a_phone_photo_of_a_printed_question_finds_it(ocr_settings, es):
    figures = question_photos(ocr_settings, es, question_bank(200, seed=5), photos=30)
    print(figures)
    assert figures["question_rank1"] >= 0.90 and figures["question_top5"] >= 0.98
