"""Reason codes: every failure the decoder (shared with the upload search) can give has a place in the report."""

from __future__ import annotations

from es_search.decode import DECODE_REASONS, DecodeError, decode_bytes
from ingest.failures import REASONS, FileFailure


def test_every_decoder_reason_is_a_report_reason():
    assert set(DECODE_REASONS) <= set(REASONS)
    assert "unsupported_format" in REASONS  # also what discovery reports for SVG, camera raw and the like


def test_a_decode_failure_is_a_file_failure_the_run_reports_and_goes_past():
    try:
        decode_bytes(b"", max_pixels=1_000)
    except FileFailure as failure:  # what the pipeline catches
        assert isinstance(failure, DecodeError)
        assert (failure.reason, failure.message) == ("empty", "the file has no bytes")
        assert str(failure) == "empty: the file has no bytes"
    else:
        raise AssertionError("an empty file must fail to decode")


def test_every_remote_reader_reason_is_a_report_reason():
    from es_search.remote import REASONS as REMOTE_REASONS

    assert set(REMOTE_REASONS) <= set(REASONS)
    assert {"bad_record", "duplicate_id"} <= set(REASONS)
