"""A study folded into its series (pure), and what a similar-case search keeps of a DICOM image."""

from __future__ import annotations

from es_search.fields import load_registry
from es_search.search.filters import SearchFilters
from es_search.search.studies import build_study_search, case_filters, fold_study


def _hit(doc_id: str, series: str | None, number: int | None, instance: int, **more) -> dict:
    source = {"series_uid": series, "series_number": number, "instance_number": instance, "modality": "CT", **more}
    return {"_id": doc_id, "_source": {k: v for k, v in source.items() if v is not None}}


def test_a_study_is_its_series_in_the_order_the_search_gives_them():
    hits = [_hit("a", "1.2.1", 1, 1, study_description="CHEST", study_date="2026-01-15"),
            _hit("b", "1.2.1", 1, 2), _hit("c", "1.2.9", 700, 1, series_description="LUNG"),
            _hit("d", None, None, 5)]
    study = fold_study("1.2", hits, total=5)
    assert [s.uid for s in study.series] == ["1.2.1", "1.2.9", None]
    assert [[image["id"] for image in s.images] for s in study.series] == [["a", "b"], ["c"], ["d"]]
    data = study.to_dict()
    assert (data["study_description"], data["study_date"], data["total"], data["shown"]) == ("CHEST", "2026-01-15",
                                                                                            5, 4)
    assert data["series"][1]["series_description"] == "LUNG" and data["modalities"] == ["CT"]
    sort = build_study_search("1.2", 1000)["sort"]
    assert [next(iter(key)) for key in sort] == ["series_number", "series_uid", "instance_number", "sop_uid", "sha256"]
    assert sort[0]["series_number"]["unmapped_type"] == "integer"  # an index from before these fields still answers


def test_similar_cases_keep_a_dicom_images_modality_body_part_and_department():
    registry = load_registry()
    ct = {"format": "DICOM", "modality": "CT", "body_part": "CHEST", "department": "Radiology"}
    assert case_filters(ct, SearchFilters(), registry).terms == {
        "modality": ("CT",), "body_part": ("CHEST",), "department": ("Radiology",)}
    chosen = case_filters(ct, SearchFilters(terms={"modality": ("MR",), "tag": ("x",)}), registry)
    assert chosen.terms == {"modality": ("MR",), "tag": ("x",), "body_part": ("CHEST",), "department": ("Radiology",)}
    assert case_filters({"format": "DICOM", "modality": "US"}, SearchFilters(), registry).terms == {"modality": ("US",)}
    photo = {"format": "JPEG", "department": "Radiology"}
    assert case_filters(photo, SearchFilters(), registry) == SearchFilters()
