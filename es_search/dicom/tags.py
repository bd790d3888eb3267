"""Which DICOM tags become fields, and the privacy policy: nothing else is ever read out of a file.

The policy is a whitelist. Only the tags in TAG_FIELDS are copied into a document (each under its registry
field); every other element of the file, the patient module and the tags of the standard's basic
de-identification profile (PS3.15 Annex E) among them, is never copied, logged or reported. The patient id
is read only to make a keyed pseudonym (`patient_key`, HMAC-SHA256 with IMGSEARCH_DICOM_PSEUDONYM_KEY) when
that key is set, so one patient's studies can be grouped without the id; without a key it is not read.
Pure: a dataset in, fields out.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

# registry field → DICOM keyword. Descriptions and names of the institution are not patient identifiers in
# the basic profile's sense for an archive's own index; they are what a clinician filters by.
TAG_FIELDS = {
    "modality": "Modality",
    "body_part": "BodyPartExamined",
    "study_date": "StudyDate",
    "study_description": "StudyDescription",
    "series_description": "SeriesDescription",
    "institution": "InstitutionName",
    "department": "InstitutionalDepartmentName",
    "study_uid": "StudyInstanceUID",
    "series_uid": "SeriesInstanceUID",
    "sop_uid": "SOPInstanceUID",
}
# registry field → DICOM keyword of an integer string (IS): what orders a study's series and their images.
NUMBER_FIELDS = {
    "series_number": "SeriesNumber",
    "instance_number": "InstanceNumber",
}
# Fields the decoder sets beside the tags.
DICOM_FIELDS = (*TAG_FIELDS, *NUMBER_FIELDS, "burned_in", "patient_key", "dicom_frames")
# What a similar-case search from a DICOM image keeps of it, as filters: the same kind of picture of the
# same part of the body, read in the same department (webapp/pages.py).
CASE_FIELDS = ("modality", "body_part", "department")
# Identifying tags a test file carries, to prove none of them leaks (tests/ingest/test_dicom.py); the
# policy itself needs no list of what to drop, as it copies only TAG_FIELDS.
IDENTIFYING_EXAMPLES = ("PatientName", "PatientID", "PatientBirthDate", "PatientAddress", "OtherPatientIDs",
                        "ReferringPhysicianName", "AccessionNumber", "PatientTelephoneNumbers")
MAX_TEXT = 256


def tag_fields(ds) -> dict:
    """The whitelisted tags of `ds` as field values (text trimmed, dates as ISO dates); absent ones left out."""
    fields: dict = {}
    for field, keyword in TAG_FIELDS.items():
        value = ds.get(keyword)
        if value is None or value == "":
            continue
        text = str(value).strip()[:MAX_TEXT]
        if not text:
            continue
        if field == "study_date":
            parsed = dicom_date(text)
            if parsed is not None:
                fields[field] = parsed
            continue
        fields[field] = text.upper() if field in ("modality", "body_part") else text
    for field, keyword in NUMBER_FIELDS.items():
        number = dicom_integer(ds.get(keyword))
        if number is not None:
            fields[field] = number
    burned = str(ds.get("BurnedInAnnotation", "")).strip().upper()
    fields["burned_in"] = burned == "YES"
    return fields


def dicom_integer(value) -> int | None:
    """An IS value as an int; None when absent, malformed or outside what an integer field holds."""
    try:
        number = int(str(value).strip()) if value is not None else None
    except ValueError:  # "" included
        return None
    return number if number is not None and -2**31 <= number < 2**31 else None


def dicom_date(text: str) -> str | None:
    """DICOM's DA (YYYYMMDD) as an ISO date; None when malformed."""
    digits = text.strip()[:8]
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:])).isoformat()
    except ValueError:
        return None


def patient_key(ds, secret: str | None) -> str | None:
    """A keyed pseudonym of the patient id (16 hex digits), or None without a secret or an id."""
    if not secret:
        return None
    value = str(ds.get("PatientID", "")).strip()
    if not value:
        return None
    return hmac.new(secret.encode("utf-8"), value.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
