"""DICOM archives through the ingest, on a real node: pydicom's files and files carrying patient data in every
identifying tag are indexed with their tags as fields; bad files are reported each with its reason; and no
patient data reaches anything the project wrote: the index, the API's answers, the thumbnails, the report,
the local state or the command's output."""

from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image

from es_search.dicom.decode import dicom_available
from ingest.report import read_report
from tests.support.cli import imgsearch
from tests.support.dicom_files import SECRETS, bundled, gradient, write_dicom
from tests.support.exactly_once import all_docs
from webapp import create_app

pytestmark = pytest.mark.skipif(not dicom_available(), reason="needs `make setup-dicom`")


@pytest.fixture
def archive(tmp_path):
    folder = tmp_path / "archive"
    (folder / "ct").mkdir(parents=True)
    shutil.copy(bundled("CT_small.dcm"), folder / "ct" / "CT_small.dcm")
    shutil.copy(bundled("MR_small_RLE.dcm"), folder / "mr.dcm")
    write_dicom(folder / "chest.dcm", gradient())
    write_dicom(folder / "marked.dcm", gradient(top=3000), burned_in=True)
    write_dicom(folder / "1.2.826.0.1.3680043.99", gradient(top=2000), photometric="MONOCHROME1")  # no extension
    (folder / "DICOMDIR").write_bytes((folder / "chest.dcm").read_bytes())  # a media index: not an image
    Image.new("RGB", (64, 64), (200, 30, 30)).save(folder / "photo.dcm", format="JPEG")  # a JPEG renamed .dcm
    whole = write_dicom(tmp_path / "whole.dcm", gradient(256, 256)).read_bytes()
    (folder / "cut.dcm").write_bytes(whole[:len(whole) // 2])
    shutil.copy(bundled("rtplan.dcm"), folder / "plan.dcm")
    return folder


def test_dicom_files_are_indexed_with_their_tags_and_no_patient_data_leaks(tiny_settings, es, archive, tmp_path):
    settings = tiny_settings.with_overrides(data_dir=tmp_path / "data", ocr="on")
    run = imgsearch("ingest", str(archive), "--no-progress", alias=settings.index_alias, data_dir=settings.data_dir,
                    IMGSEARCH_IMAGE_MODEL=settings.image_model, IMGSEARCH_TEXT_MODEL=settings.text_model,
                    IMGSEARCH_OCR="on", IMGSEARCH_DICOM_PSEUDONYM_KEY="a-secret-of-the-hospital")
    assert run.returncode == 0, run.stderr
    docs = {doc["file_name"]: doc for doc in all_docs(es, settings.index_alias).values()}
    assert sorted(docs) == ["1.2.826.0.1.3680043.99", "CT_small.dcm", "chest.dcm", "marked.dcm", "mr.dcm"]
    ct, chest = docs["CT_small.dcm"], docs["chest.dcm"]
    assert (ct["modality"], ct["format"], ct["study_date"]) == ("CT", "DICOM", "2004-01-19")
    assert (chest["department"], chest["body_part"], chest["study_description"]) == ("Radiology", "CHEST",
                                                                                      "CHEST ROUTINE")
    assert chest["patient_key"] == docs["marked.dcm"]["patient_key"] != ct["patient_key"]  # one patient, another
    assert docs["marked.dcm"]["burned_in"] is True and "thumbnail" not in docs["marked.dcm"]
    assert chest["thumbnail"] and "has_text" not in chest  # OCR does not read medical images
    report = next((settings.data_dir / "reports").glob("*.jsonl"))
    failures, _ = read_report(report)
    assert sorted((f["path"].rsplit("/", 1)[-1], f["reason"]) for f in failures) == [
        ("cut.dcm", "truncated"), ("photo.dcm", "not_dicom"), ("plan.dcm", "no_pixel_data")]

    client = create_app(settings).test_client()
    found = client.get("/api/search", query_string={"modality": "CT", "size": 50}).get_json()
    assert sorted(hit["image"]["file_name"] for hit in found["hits"]) == [
        "1.2.826.0.1.3680043.99", "CT_small.dcm", "chest.dcm", "marked.dcm"]  # not the MR
    facets = client.get("/api/facets").get_json()["facets"]
    assert {entry["value"] for entry in facets["modality"]} == {"CT", "MR"}
    answers = [client.get("/api/search", query_string={"size": 50, "facets": "true"}).get_data(as_text=True),
               *(client.get(f"/api/images/{doc['image_id']}").get_data(as_text=True) for doc in docs.values()),
               *(client.get(f"/image/{doc['image_id']}").get_data(as_text=True) for doc in docs.values())]
    written = [json.dumps(docs), run.stdout, run.stderr, *answers]
    written += [path.read_bytes().decode("latin-1") for path in settings.data_dir.rglob("*") if path.is_file()]
    for secret in SECRETS:
        assert not any(secret in text for text in written), f"{secret!r} leaked"
