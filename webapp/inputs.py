"""What a request brings, read through the request contract: search parameters, JSON bodies, uploaded images.

Query strings and forms go through the contract's models as text, JSON bodies as typed JSON
(es_search/search/contract.py); an uploaded image's bytes are checked once, here, where they arrive
(es_search/uploads.py). Malformed input is an error with its status (400, or 413 for a too large upload).
"""

from __future__ import annotations

import base64
import binascii
import re
from types import SimpleNamespace

import numpy as np
from flask import Request

from es_search.errors import QueryError, UploadRejected
from es_search.search.contract import ImagePart, TextPart, compound_model, image_search_model, paging_model
from es_search.search.parsing import parse_body, parse_query
from es_search.search.parts import QueryPart
from es_search.search.request import SearchRequest, encode_vector, request_from
from es_search.uploads import checked_upload

_DATA_URL = re.compile(r"^data:[\w/+.-]+;base64,", re.IGNORECASE)
UPLOAD_FIELD = "image"
BASE64_FIELD = "image_base64"


def request_params(request: Request, include_form: bool = False) -> dict[str, list[str]]:
    """Query-string (and form) parameters, each a list, in the shape the contract's `parse_query` reads."""
    params = {key: request.args.getlist(key) for key in request.args}
    if include_form:
        for key in request.form:
            params.setdefault(key, []).extend(request.form.getlist(key))
    return params


def decode_base64_image(encoded: str, max_bytes: int) -> bytes:
    """An image sent as base64 text (optionally a data: URL), bounded before and after decoding."""
    encoded = _DATA_URL.sub("", encoded.strip(), count=1)
    # Cheap bound before decoding: base64 takes 4 characters per 3 bytes.
    if len(encoded) * 3 // 4 > max_bytes + 3:
        return checked_upload(b"\0" * (max_bytes + 1), max_bytes)  # too large, said the one way
    try:
        data = base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        raise UploadRejected("bad_base64", f"{BASE64_FIELD} is not valid base64") from None
    return checked_upload(data, max_bytes)


def uploaded_file(request: Request, max_bytes: int) -> bytes:
    """The multipart file field `image`, read at most one byte past the limit."""
    upload = request.files.get(UPLOAD_FIELD)
    if upload is None:
        raise UploadRejected("missing_image", f"send the image as a multipart file field named {UPLOAD_FIELD!r} "
                                              f"or as JSON with {BASE64_FIELD}")
    return checked_upload(upload.stream.read(max_bytes + 1), max_bytes)


def image_search_input(request: Request, settings, registry, collapse_default: bool = False,
                       form: bool = False) -> tuple[bytes, SearchRequest]:
    """POST /api/search/image (and the gallery's upload): the image and the search beside it. The image is
    a multipart file `image` or JSON `image_base64`; the search parameters are query parameters, form fields
    of a multipart body, or JSON keys beside `image_base64` (which win). `form`: the gallery's own form,
    whose empty fields count as absent."""
    query = parse_query(paging_model(settings, registry), request_params(request, include_form=not request.is_json),
                        blank_is_absent=form)
    if not request.is_json:
        data = uploaded_file(request, settings.max_upload_bytes)
        return data, request_from(query, registry, collapse_default=collapse_default)
    body = parse_body(image_search_model(settings, registry), request.get_data())
    merged = SimpleNamespace(**{name: getattr(body if name in body.model_fields_set else query, name)
                                for name in type(query).model_fields})
    data = decode_base64_image(body.image_base64, settings.max_upload_bytes)
    return data, request_from(merged, registry, collapse_default=collapse_default)


def compound_search_input(request: Request, settings, registry, encode_image) -> SearchRequest:
    """POST /api/search: a JSON body of `parts` beside any GET parameter. Uploaded parts are encoded by
    `encode_image` (bytes → vector) and join the query as vector parts, as arrays."""
    if not request.is_json:
        raise QueryError("the body must be JSON: {\"parts\": [{\"text\": \"beach\"}, ...], ...}")
    parsed = parse_body(compound_model(settings, registry), request.get_data())
    parts = []
    for part in parsed.parts:
        weight = -part.weight if part.negative else part.weight
        if isinstance(part, TextPart):
            parts.append(QueryPart("text", part.text.strip(), weight))
        elif isinstance(part, ImagePart):
            parts.append(QueryPart("image", part.image, weight))
        else:
            data = decode_base64_image(part.image_base64, settings.max_upload_bytes)
            vector = np.asarray(encode_image(data), dtype=np.float32)
            parts.append(QueryPart("vector", encode_vector(vector), weight, vector=vector))
    return request_from(parsed, registry, extra_parts=[part for part in parts if part.value])
