"""Why a file was not indexed: a short reason code and a message for people, one report line per file.

The exception itself, `FileFailure`, lives in the core (`es_search.errors`) because the decoder, which the
upload search shares, raises it too; it is re-exported here for the ingest stages.
"""

from __future__ import annotations

from es_search.errors import FileFailure

__all__ = ["REASONS", "FileFailure"]

# Every reason code a report can hold, with what it means.
REASONS = {
    "empty": "the file has no bytes",
    "truncated": "the image data ends early",
    "corrupt": "the image data is damaged",
    "not_an_image": "the bytes are not an image format we know",
    "unsupported_format": "an image, but in a format or mode this installation cannot decode",
    "too_many_pixels": "more pixels than IMGSEARCH_MAX_IMAGE_PIXELS allows (decompression bomb guard)",
    "unreadable": "the file or folder cannot be read (permissions, I/O error)",
    "not_found": "a path given to the run does not exist",
    "vanished": "the file disappeared during the run",
    "not_a_file": "not a regular file",
    "changed": "the file changed while the run was reading it",
    "encode_failed": "the model could not encode the image",
    "index_rejected": "Elasticsearch rejected the document",
    "io_error": "a file of ours (the thumbnail) could not be written",
    # Records and remote images.
    "bad_record": "a row of a records file that cannot be used (a value of the wrong type, no image, not JSON)",
    "duplicate_id": "a records file names this id on an earlier row; the earlier row is kept",
    "bad_location": "an image location that is neither a local path, an http(s) URL nor s3://bucket/key",
    "refused_address": "the URL leads to a loopback, private, link-local or metadata address (see "
                       "IMGSEARCH_ALLOW_PRIVATE_ADDRESSES)",
    "too_many_redirects": "the URL redirects more often than IMGSEARCH_FETCH_MAX_REDIRECTS allows",
    "download_failed": "the image could not be downloaded (connection, server error after retries)",
    "forbidden": "the server or bucket refused access to the image",
    "timeout": "the download took longer than allowed",
    "too_large": "the image is larger than the download size limit",
    "missing_image": "an operation of the write API names no image",
    # Videos (ingest/video.py) and DICOM files (es_search/dicom).
    "not_a_video": "a file named as a video that FFmpeg cannot read as one",
    "not_dicom": "a file named as DICOM (.dcm) that is not a DICOM file",
    "no_pixel_data": "a DICOM file without an image (a report, a plan, a waveform)",
    "unsupported_transfer_syntax": "a DICOM file compressed in a way no installed decoder reads",
}
