"""DICOM media and studies on a real node: a DICOMDIR ingested as the files it lists, a study's series and
images in the scanner's order (API and page), a records file keyed by SOP Instance UID setting the
department, and similar cases from a DICOM image keeping its modality, body part and department."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from es_search.dicom.decode import dicom_available
from ingest.report import read_report
from ingest.runner import run_ingest, run_records_ingest
from tests.support.dicom_files import bundled, gradient, write_dicom
from tests.support.exactly_once import all_docs
from webapp import create_app

pytestmark = pytest.mark.skipif(not dicom_available(), reason="needs `make setup-dicom`")


@pytest.fixture
def medium(tmp_path):
    """pydicom's DICOMDIR test medium (3 patients, 5 studies, extensionless files in nested folders), with one
    listed file gone and one file the DICOMDIR does not list."""
    root = tmp_path / "medium"
    shutil.copytree(bundled("dicomdirtests"), root)
    (root / "98892001" / "CT5N" / "3353").unlink()
    shutil.copy(bundled("CT_small.dcm"), root / "stray.dcm")
    return root


def _listed() -> dict[str, str]:
    """The files pydicom's own reader says the pristine medium lists: relative path → SOP Instance UID."""
    import pydicom
    from pydicom.fileset import FileSet

    folder = bundled("dicomdirtests")
    return {str(Path(i.path).relative_to(folder)): i.SOPInstanceUID
            for i in FileSet(pydicom.dcmread(folder / "DICOMDIR"))}


def test_a_dicomdir_is_ingested_as_the_files_it_lists(tiny_settings, es, medium):
    listed = _listed()
    present = {relative: uid for relative, uid in listed.items() if (medium / relative).is_file()}
    assert len(listed) == 31 and len(present) == 30
    summary = run_ingest(tiny_settings, [medium / "DICOMDIR"])
    contents = {hashlib.sha256((medium / relative).read_bytes()).hexdigest() for relative in present}
    assert summary.indexed == len(contents) and summary.failed == 1
    failures, _ = read_report(summary.report)
    assert [(f["path"].rsplit("/", 2)[-2:], f["reason"]) for f in failures] == [(["CT5N", "3353"], "not_found")]
    docs = all_docs(es, tiny_settings.index_alias)
    assert "stray.dcm" not in {doc["file_name"] for doc in docs.values()}  # not on the DICOMDIR's list
    assert {doc["sop_uid"] for doc in docs.values()} <= set(present.values())
    assert all(doc["format"] == "DICOM" for doc in docs.values())
    relative = sorted(path for doc in docs.values() for path in doc["relative_path"])
    assert relative == sorted(present)  # relative to the DICOMDIR's folder, e.g. 98892001/CT2N/6293


def test_a_study_lists_its_series_and_images_in_the_scanners_order(tiny_settings, es, medium):
    run_ingest(tiny_settings, [medium / "DICOMDIR"])
    import pydicom

    files = [pydicom.dcmread(medium / relative) for relative in _listed() if (medium / relative).is_file()]
    study_uid = "1.3.6.1.4.1.5962.1.1.0.0.0.1196533885.18148.0.1"  # series 1, 2 and 700 (numbers, not text)
    series: dict[str, tuple[int, list[int]]] = {}
    for ds in files:
        if ds.get("StudyInstanceUID") == study_uid:
            numbers = series.setdefault(ds.SeriesInstanceUID, (int(ds.SeriesNumber), []))[1]
            numbers.append(int(ds.InstanceNumber))
    assert len(series) == 3
    client = create_app(tiny_settings).test_client()
    answer = client.get(f"/api/studies/{study_uid}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    expected = sorted(series.items(), key=lambda item: item[1][0])
    assert [s["uid"] for s in body["series"]] == [uid for uid, _ in expected]
    assert [[image["image"]["instance_number"] for image in s["images"]] for s in body["series"]] == [
        sorted(numbers) for _, (_, numbers) in expected]
    assert body["total"] == body["shown"] == sum(len(numbers) for _, (_, numbers) in expected)
    assert body["modalities"] == ["MR"] and "vector" not in str(body)

    page = client.get(f"/study/{study_uid}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('class="series"') == len(series) and all(f'data-series="{uid}"' in html for uid in series)
    first = body["series"][0]["images"][0]
    assert f'href="/study/{study_uid}"' in client.get(f"/image/{first['id']}").get_data(as_text=True)

    assert client.get("/api/studies/1.2.3.4.5.6.7.8").status_code == 404
    assert client.get("/study/1.2.3.4.5.6.7.8").status_code == 404
    assert client.get("/api/studies/" + "1." * 80).status_code == 400


def test_a_records_file_keyed_by_sop_uid_sets_the_department(tiny_settings, es, tmp_path):
    folder = tmp_path / "archive"
    folder.mkdir()
    cardiac = write_dicom(folder / "a.dcm", gradient(), tags={"SOPInstanceUID": "1.2.826.0.1.3680043.8.1.1"})
    other = write_dicom(folder / "b.dcm", gradient(top=2500), tags={"SOPInstanceUID": "1.2.826.0.1.3680043.8.1.2"})
    records = tmp_path / "departments.jsonl"  # JSON Lines: a row may leave a field out (a CSV's empty cell clears)
    records.write_text(json.dumps({"id": "1.2.826.0.1.3680043.8.1.1", "image": str(cardiac),
                                   "department": "Cardiology", "tags": ["echo"]}) + "\n"
                       + json.dumps({"id": "1.2.826.0.1.3680043.8.1.2", "image": str(other)}) + "\n",
                       encoding="utf-8")
    summary = run_records_ingest(tiny_settings, records)
    assert summary.indexed == 2 and summary.failed == 0
    docs = all_docs(es, tiny_settings.index_alias)
    assert docs["1.2.826.0.1.3680043.8.1.1"]["department"] == "Cardiology"  # the record's, over the tag's
    assert docs["1.2.826.0.1.3680043.8.1.1"]["tags"] in ("echo", ["echo"])
    assert docs["1.2.826.0.1.3680043.8.1.2"]["department"] == "Radiology"  # no value: the tag's stays
    assert docs["1.2.826.0.1.3680043.8.1.2"]["sop_uid"] == "1.2.826.0.1.3680043.8.1.2"
    client = create_app(tiny_settings).test_client()
    found = client.get("/api/search", query_string={"department": "Cardiology"}).get_json()
    assert [hit["id"] for hit in found["hits"]] == ["1.2.826.0.1.3680043.8.1.1"]


def test_similar_cases_from_a_dicom_image_keep_its_modality_body_part_and_department(tiny_settings, es, tmp_path):
    folder = tmp_path / "cases"
    folder.mkdir()
    write_dicom(folder / "chest-ct.dcm", gradient())
    write_dicom(folder / "chest-ct-2.dcm", gradient(top=3000))
    write_dicom(folder / "chest-mr.dcm", gradient(top=3500), modality="MR")
    write_dicom(folder / "head-ct.dcm", gradient(top=2000), tags={"BodyPartExamined": "HEAD"})
    write_dicom(folder / "cardio-ct.dcm", gradient(top=2200), tags={"InstitutionalDepartmentName": "Cardiology"})
    summary = run_ingest(tiny_settings, [folder])
    assert summary.indexed == 5
    docs = {doc["file_name"]: doc for doc in all_docs(es, tiny_settings.index_alias).values()}
    client = create_app(tiny_settings).test_client()
    html = client.get(f"/image/{docs['chest-ct.dcm']['image_id']}").get_data(as_text=True)
    region = html.split('data-region-url="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert {k: v for k, v in parse_qs(urlsplit(region).query).items() if k != "similar"} == {
        "modality": ["CT"], "body_part": ["CHEST"], "department": ["Radiology"]}
    assert 'class="case-filters"' in html
    shown = html.split('<section class="similar">', 1)[1]
    assert f'data-id="{docs["chest-ct-2.dcm"]["image_id"]}"' in shown
    assert not any(docs[name]["image_id"] in shown for name in ("chest-mr.dcm", "head-ct.dcm", "cardio-ct.dcm"))

    answer = client.get(region + "&box=0.1,0.1,0.5,0.5")  # a region drawn on the picture, as the page sends it
    assert answer.status_code == 200
    api = client.get("/api/similar/" + docs["chest-ct.dcm"]["image_id"],
                     query_string={**{k: v[0] for k, v in parse_qs(urlsplit(region).query).items() if k != "similar"},
                                   "box": "0.1,0.1,0.5,0.5"}).get_json()
    assert [hit["image"]["file_name"] for hit in api["hits"]] == ["chest-ct-2.dcm"]

    chosen = client.get(f"/image/{docs['chest-ct.dcm']['image_id']}", query_string={"modality": "MR"})
    kept = chosen.get_data(as_text=True).split('data-region-url="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert parse_qs(urlsplit(kept).query)["modality"] == ["MR"]  # the visitor's choice stands
