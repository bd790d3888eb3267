"""A DICOM study as its series and their images, and what a similar-case search keeps of its image (pure).

A study is one search by `study_uid`, folded here. The images come ordered by Series Number, then Series
Instance UID, then Instance Number (SOP Instance UID breaking ties), so folding keeps the order: each series
once, its images as the scanner numbered them. A study lists at most the index's result window
(IMGSEARCH_MAX_RESULT_WINDOW, 1000 by default) of its images; a larger one says how many it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from es_search.dicom.tags import CASE_FIELDS
from es_search.fields import FieldRegistry
from es_search.search.bodies import source_without_vector
from es_search.search.filters import SearchFilters

# A DICOM UID is digits and dots, at most 64 characters; letters, `-` and `_` are let through for the
# UIDs of non-conforming archives, and the length up to 128.
STUDY_UID_PATTERN = r"^[0-9A-Za-z._-]{1,128}$"
# What a study page shows of the study: taken from its first image (all of a study's images share them).
STUDY_SUMMARY = ("study_description", "study_date", "institution", "department", "patient_key")
SERIES_SUMMARY = ("series_number", "series_description", "modality", "body_part")


@dataclass
class Series:
    uid: str | None  # None: images that name no series
    summary: dict
    images: list[dict] = field(default_factory=list)  # {"id": ..., "image": document}, in instance order

    def to_dict(self) -> dict:
        return {"uid": self.uid, **self.summary, "images": self.images}


@dataclass
class Study:
    uid: str
    summary: dict
    total: int  # images in the study
    series: list[Series]

    @property
    def shown(self) -> int:
        return sum(len(series.images) for series in self.series)

    def to_dict(self) -> dict:
        return {"uid": self.uid, **self.summary, "total": self.total, "shown": self.shown,
                "modalities": sorted({s.summary["modality"] for s in self.series if s.summary.get("modality")}),
                "series": [series.to_dict() for series in self.series]}


def build_study_search(study_uid: str, size: int) -> dict:
    """The images of one study, in series and instance order (fields absent from an older index sort last)."""
    def ascending(name: str, kind: str) -> dict:
        return {name: {"order": "asc", "missing": "_last", "unmapped_type": kind}}

    return {
        "query": {"bool": {"filter": [{"term": {"study_uid": study_uid}}]}},
        "sort": [ascending("series_number", "integer"), ascending("series_uid", "keyword"),
                 ascending("instance_number", "integer"), ascending("sop_uid", "keyword"), {"sha256": "asc"}],
        "size": size,
        "_source": source_without_vector(),
        "track_total_hits": True,
    }


def fold_study(study_uid: str, hits: Sequence[dict], total: int) -> Study:
    """Search hits (`_id`, `_source`), already in order, as the study's series."""
    series: dict[str | None, Series] = {}
    for hit in hits:
        source = hit.get("_source", {})
        uid = source.get("series_uid")
        if uid not in series:
            series[uid] = Series(uid, {name: source.get(name) for name in SERIES_SUMMARY})
        series[uid].images.append({"id": hit["_id"], "image": source})
    first = hits[0].get("_source", {}) if hits else {}
    return Study(study_uid, {name: first.get(name) for name in STUDY_SUMMARY}, total, list(series.values()))


def case_filters(source: dict, filters: SearchFilters, registry: FieldRegistry) -> SearchFilters:
    """What a similar-case search from a DICOM image narrows by: `filters`, plus the image's own modality,
    body part and department (CASE_FIELDS) where it has them and `filters` chooses none. Other images
    (photos) keep `filters` as they are."""
    if source.get("format") != "DICOM":
        return filters
    terms = dict(filters.terms)
    for name in CASE_FIELDS:
        spec = registry.get(name)
        value = source.get(name)
        if spec is None or not spec.param or spec.filter != "terms" or value in (None, "") or terms.get(spec.param):
            continue
        terms[spec.param] = (value,)
    return replace(filters, terms=terms)
