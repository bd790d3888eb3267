"""Text inside images through the ingest: the OCR enricher fills has_text, ocr_text and ocr_lines; photos
without text pass the gate; a failed or slow reading costs the text only; unchanged bytes are not read
again; and the words are found, in English and Chinese, by the keyword leg and the text mode."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from demo.rendered_text import png_bytes, text_collection, text_free_photos
from es_search.errors import ConfigError
from es_search.ocr import engine as ocr_engine
from es_search.search import SearchService
from es_search.search.filters import parse_filters
from es_search.search.request import SearchRequest
from ingest.enrichers import build_enrichers
from ingest.report import read_report
from ingest.runner import run_ingest
from tests.support.exactly_once import all_docs


@pytest.fixture
def ocr_settings(tiny_settings):
    return tiny_settings.with_overrides(ocr="auto", batch_size=4, bulk_chunk=4)


@pytest.fixture(scope="module")
def drawn():
    return text_collection(12, seed=21), text_free_photos(4, seed=5)


def write_folder(folder: Path, drawn) -> Path:
    texts, photos = drawn
    folder.mkdir(parents=True, exist_ok=True)
    for item in texts:
        (folder / f"{item.name}.png").write_bytes(png_bytes(item.image))
    for n, photo in enumerate(photos):
        photo.save(folder / f"photo-{n}.jpg", quality=90)
    return folder


def by_name(docs: dict) -> dict:
    return {doc["file_name"].rsplit(".", 1)[0]: doc for doc in docs.values()}


def test_each_image_gets_its_text_and_photos_without_text_are_marked(ocr_settings, es, tmp_path, drawn):
    folder = write_folder(tmp_path / "photos", drawn)
    summary = run_ingest(ocr_settings, [folder])
    assert summary.indexed == 16 and summary.failed == 0 and summary.noted == 0
    docs = by_name(all_docs(es, ocr_settings.index_alias))
    for item in drawn[0]:
        doc = docs[item.name]
        assert doc["has_text"] is True
        for word in item.unique:
            assert word in doc["ocr_text"].replace(" ", ""), (item.name, word, doc["ocr_text"])
        assert doc["ocr_lines"] and all(0 <= v <= 1 for line in doc["ocr_lines"] for v in line["box"])
    for n in range(4):
        assert docs[f"photo-{n}"]["has_text"] is False and "ocr_text" not in docs[f"photo-{n}"]

    service = SearchService(es, ocr_settings)
    with_text = service.search(SearchRequest(text="a page", filters=parse_filters({"has_text": ["true"]}), size=50))
    assert {hit.source["file_name"] for hit in with_text.hits} == {f"{item.name}.png" for item in drawn[0]}
    # Text mode: a word that one image shows finds that image first, in English and in Chinese.
    for item in drawn[0]:
        result = service.search(SearchRequest(text=item.unique[1], mode="text", size=3))
        assert result.mode == "text" and result.hits[0].source["file_name"] == f"{item.name}.png", item.unique[1]
        assert result.cutoff.good >= 1


def test_unchanged_bytes_are_not_read_again_and_a_new_path_borrows_the_text(ocr_settings, es, tmp_path, drawn,
                                                                          monkeypatch):
    folder = write_folder(tmp_path / "photos", drawn)
    assert run_ingest(ocr_settings, [folder]).indexed == 16
    reads = []
    real_read = ocr_engine.OcrEngine.read
    monkeypatch.setattr(ocr_engine.OcrEngine, "read", lambda self, image: reads.append(1) or real_read(self, image))
    item = drawn[0][0]
    (folder / "copy.png").write_bytes(png_bytes(item.image))  # same bytes, a new path
    summary = run_ingest(ocr_settings, [folder])
    assert summary.indexed == 0 and summary.skipped_unchanged == 16 and reads == []
    doc = by_name(all_docs(es, ocr_settings.index_alias))[item.name]
    assert len(doc["paths"]) == 2 and item.unique[0] in doc["ocr_text"].replace(" ", "")


def test_a_failed_or_slow_reading_costs_the_text_only(ocr_settings, es, tmp_path, drawn, monkeypatch):
    texts = drawn[0][:2]
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "fails.png").write_bytes(png_bytes(texts[0].image))
    (folder / "slow.png").write_bytes(png_bytes(texts[1].image))

    def read(self, image):
        if image.size == texts[0].image.size and image.getpixel((5, 5)) == texts[0].image.getpixel((5, 5)):
            raise RuntimeError("the model broke")
        time.sleep(3)
        return []

    monkeypatch.setattr(ocr_engine.OcrEngine, "read", read)
    # Two readers, so the failing image is never queued behind the slow one (a timeout counts from when the
    # vector is ready, queue included).
    settings = ocr_settings.with_overrides(ocr="on", ocr_timeout=0.5, ocr_workers=2)
    summary = run_ingest(settings, [folder])
    assert summary.indexed == 2 and summary.failed == 0 and summary.noted == 2
    notes, _ = read_report(Path(summary.report))
    assert {Path(n["path"]).name: n["reason"] for n in notes} == {"fails.png": "ocr_failed", "slow.png": "ocr_timeout"}
    assert all(n["indexed"] for n in notes)
    docs = by_name(all_docs(es, settings.index_alias))
    assert "has_text" not in docs["fails"] and "has_text" not in docs["slow"]


def test_ocr_on_without_the_package_is_a_clear_error_and_auto_reads_nothing(tiny_settings, monkeypatch):
    monkeypatch.setattr(ocr_engine, "ocr_available", lambda: False)
    with pytest.raises(ConfigError, match="make setup-ocr"):
        build_enrichers(tiny_settings.with_overrides(ocr="on"))
    assert "ocr" not in [e.name for e in build_enrichers(tiny_settings.with_overrides(ocr="auto"))]
    assert "ocr" not in [e.name for e in build_enrichers(tiny_settings.with_overrides(ocr="off"))]
