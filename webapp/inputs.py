"""What a request brings: query parameters as lists, and an uploaded image from multipart or base64 JSON."""

from __future__ import annotations

import base64
import binascii
import re

from flask import Request

from es_search.errors import QueryError, UploadRejected
from es_search.search.parts import MAX_PARTS, MAX_WEIGHT, with_weight

_DATA_URL = re.compile(r"^data:[\w/+.-]+;base64,", re.IGNORECASE)
UPLOAD_FIELD = "image"
BASE64_FIELD = "image_base64"


def request_params(request: Request, include_form: bool = False) -> dict[str, list[str]]:
    """Query-string (and form) parameters, each a list, in the shape `parse_search_request` reads."""
    params = {key: request.args.getlist(key) for key in request.args}
    if include_form:
        for key in request.form:
            params.setdefault(key, []).extend(request.form.getlist(key))
    return params


def json_params(body: dict) -> dict[str, list[str]]:
    """A JSON object's search parameters as lists of strings (numbers and booleans accepted)."""
    params: dict[str, list[str]] = {}
    for key, value in body.items():
        if key == BASE64_FIELD or value is None:
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, (dict, list)):
                raise QueryError(f"{key} must be a string, a number or a list of them")
            params.setdefault(key, []).append(str(item).lower() if isinstance(item, bool) else str(item))
    return params


PART_KEYS = {"text": ("q", "not"), "image": ("like", "unlike")}


def compound_from_json(body: object, max_bytes: int) -> tuple[dict[str, list[str]], list[tuple[bytes, float]]]:
    """POST /api/search's JSON: `parts` (each {"text"|"image"|"image_base64": ..., "weight": w, "negative":
    bool}) beside the GET parameters. Returns the parameters (parts as q/not/like/unlike with ^weights) and
    the uploads with their signed weights, for the caller to encode into vec/not_vec."""
    if not isinstance(body, dict):
        raise QueryError("the body must be a JSON object: {\"parts\": [{\"text\": \"beach\"}, ...], ...}")
    parts = body.get("parts", [])
    if not isinstance(parts, list) or len(parts) > MAX_PARTS:
        raise QueryError(f"parts must be a list of at most {MAX_PARTS} objects")
    params = json_params({key: value for key, value in body.items() if key != "parts"})
    uploads: list[tuple[bytes, float]] = []
    for number, part in enumerate(parts, start=1):
        if not isinstance(part, dict):
            raise QueryError(f"part {number} must be an object with text, image or image_base64")
        given = [key for key in ("text", "image", BASE64_FIELD) if key in part]
        unknown = set(part) - {"text", "image", BASE64_FIELD, "weight", "negative"}
        if len(given) != 1 or unknown:
            raise QueryError(f"part {number} takes exactly one of text, image, {BASE64_FIELD} "
                             "(and optionally weight and negative)")
        weight, negative = part.get("weight", 1.0), part.get("negative", False)
        if (isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight <= MAX_WEIGHT
                or not isinstance(negative, bool)):
            raise QueryError(f"part {number}: weight is a number above 0 and at most {MAX_WEIGHT:g}, "
                             "negative is true or false")
        value = part[given[0]]
        if not isinstance(value, str):
            raise QueryError(f"part {number}: {given[0]} must be a string")
        if given[0] == BASE64_FIELD:
            uploads.append((decode_base64_image(value, max_bytes), -float(weight) if negative else float(weight)))
            continue
        name = PART_KEYS[given[0]][1 if negative else 0]
        params.setdefault(name, []).append(with_weight(value, float(weight)))
    return params, uploads


def decode_base64_image(encoded: str, max_bytes: int) -> bytes:
    """An image sent as base64 text (optionally a data: URL), bounded before and after decoding."""
    encoded = _DATA_URL.sub("", encoded.strip(), count=1)
    # Cheap bound before decoding: base64 takes 4 characters per 3 bytes.
    if len(encoded) * 3 // 4 > max_bytes + 3:
        raise _too_large(max_bytes)
    try:
        data = base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        raise UploadRejected("bad_base64", f"{BASE64_FIELD} is not valid base64") from None
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    if not data:
        raise UploadRejected("empty", "the uploaded image is empty")
    return data


def upload_from_request(request: Request, max_bytes: int) -> tuple[bytes, dict[str, list[str]]]:
    """The uploaded image's bytes and the search parameters, from a multipart form (field `image`) or a
    JSON body (`image_base64`, optionally a data: URL). Missing, malformed or oversized input is an
    UploadRejected with the status to answer."""
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise UploadRejected("bad_json", "the body must be a JSON object with an image_base64 field")
        encoded = body.get(BASE64_FIELD)
        if not isinstance(encoded, str) or not encoded.strip():
            raise UploadRejected("missing_image", f"give the image as base64 text in {BASE64_FIELD}")
        data = decode_base64_image(encoded, max_bytes)
        params = request_params(request)
        params.update(json_params(body))
    else:
        upload = request.files.get(UPLOAD_FIELD)
        if upload is None:
            raise UploadRejected("missing_image", f"send the image as a multipart file field named {UPLOAD_FIELD!r} "
                                                  f"or as JSON with {BASE64_FIELD}")
        data = upload.stream.read(max_bytes + 1)
        params = request_params(request, include_form=True)
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    if not data:
        raise UploadRejected("empty", "the uploaded image is empty")
    return data, params


def _too_large(limit: int) -> UploadRejected:
    return UploadRejected("too_large", f"the image is larger than the upload limit of {limit} bytes", status=413)
