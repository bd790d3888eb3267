"""The API keeps the contract it publishes: schemathesis reads /api/openapi.json and sends generated requests,
valid and invalid, to the app on a real node (the sample gallery, a write key), with every check on.

The document's own formats get strategies that make values of them, as schemathesis asks of custom formats:
vector tokens of the index's size, small real images in base64 (and as files), URLs of images on a loopback
server, and ranges. With them every valid request can be answered 2xx (or 404 for an id that is not indexed),
and every invalid one must be refused with a 4xx.
"""

from __future__ import annotations

import base64
import io
import json
import uuid

import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis.checks import CHECKS

from es_search.apikeys import create_key, keys_index
from es_search.search.request import encode_vector
from tests.support.http_server import Route, ScriptedHTTPServer
from tests.support.sample_gallery import build_gallery, remove_gallery
from webapp import create_app

EXAMPLES = 50  # generated cases per operation and phase: with the coverage phase, well over a thousand in all


def _image(seed: int, fmt: str | None = None) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (24 + seed % 16, 32, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt or ("PNG" if seed % 2 else "JPEG"))
    return buffer.getvalue()


IMAGES = st.integers(0, 50).map(_image)
IMAGE_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/gif": "GIF"}


def _vector_tokens(dims: int):
    unit = st.lists(st.floats(-1, 1, allow_nan=False), min_size=dims, max_size=dims).filter(
        lambda v: np.linalg.norm(v) > 0.1)
    return unit.map(encode_vector)


def _ranges(bound):
    ends = st.one_of(st.none(), bound)
    return st.tuples(ends, ends).map(lambda pair: f"{'' if pair[0] is None else pair[0]}.."
                                                  f"{'' if pair[1] is None else pair[1]}")


@pytest.fixture(scope="module")
def contract_app(es, base_settings, tiny_models, tmp_path_factory):
    gallery = build_gallery(es, base_settings, tiny_models, tmp_path_factory.mktemp("contract"))
    images = ScriptedHTTPServer().__enter__()
    urls = [images.add(f"/img/{n}.jpg", Route(body=_image(n), content_type="image/jpeg")) for n in range(8)]
    app_settings = gallery.settings.with_overrides(allow_private_addresses=True, max_upload_bytes=2_000_000,
                                                   fetch_backoff=0.01, write_url_hosts=("127.0.0.1",))
    key = create_key(es, app_settings, name=f"contract-{uuid.uuid4().hex[:6]}", scope="write")
    formats = {
        "vector-token": _vector_tokens(tiny_models.dims),
        "base64-image": IMAGES.map(lambda data: base64.b64encode(data).decode()),
        "binary": IMAGES,  # every file part of this API is an image (its encoding says image/*)
        "image-url": st.sampled_from(urls),
        "integer-range": _ranges(st.integers(0, 10_000)),
        "number-range": _ranges(st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: f"{x:.3f}")),
        "date-range": _ranges(st.dates().map(lambda day: day.isoformat())),
        "ranking-signal": st.sampled_from(["width:log^0.5", "taken_at:30d", "byte_size:reciprocal^2", "format:PNG^2",
                                           "has_text:true^1.3", "height:linear^0.001"]),
        # A region large enough to search by in the smallest image of the gallery.
        "relative-box": st.tuples(st.floats(0, 0.5), st.floats(0, 0.5), st.floats(0.3, 0.5), st.floats(0.3, 0.5)).map(
            lambda box: ",".join(f"{v:.3f}" for v in box)),
    }
    for name, strategy in formats.items():
        schemathesis.openapi.format(name, strategy)
    for media_type, fmt in IMAGE_TYPES.items():  # the file parts, whose encoding names these types
        schemathesis.openapi.media_type(media_type, st.integers(0, 50).map(lambda seed, f=fmt: _image(seed, f)))
    schemathesis.openapi.media_type("application/x-ndjson", st.lists(
        st.one_of(st.builds(lambda n: [{"delete": {"_id": f"gone-{n}"}}], st.integers(0, 99)),
                  st.builds(lambda n: [{"update": {"_id": f"gone-{n}"}}, {"doc": {"title": "t"}}], st.integers(0, 9)),
                  st.builds(lambda data: [{"index": {}}, {"image_base64": base64.b64encode(data).decode()}], IMAGES)),
        min_size=1, max_size=4).map(lambda ops: "".join(json.dumps(line) + "\n" for op in ops for line in op).encode()))
    yield create_app(app_settings), key
    images.__exit__(None, None, None)
    es.indices.delete(index=keys_index(app_settings), ignore_unavailable=True)
    remove_gallery(es, gallery)


@pytest.fixture(scope="module")
def api_schema(contract_app):
    app, key = contract_app
    loaded = schemathesis.openapi.from_wsgi("/api/openapi.json", app)

    @loaded.auth()
    class WriteKey:
        """The application's key, sent as the document's security scheme says (schemathesis also tries
        without it, and with a wrong one: those must be 401s)."""

        def get(self, case, context):
            return key

        def set(self, case, data, context):
            case.headers = {**(case.headers or {}), "Authorization": f"ApiKey {data}"}

    return loaded


# A generated watchlist would change what every later image write answers (a refusing list with a prompt at a
# low threshold makes each a 422): the watchlist writes are held to their contract by
# tests/webapp/test_watchlists_api.py instead; their readers (GET) stay here.
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path_regex=r"^/api/watchlists",
                                                                method=["PUT", "POST", "DELETE"])


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_api_keeps_its_published_contract(case):
    case.call_and_validate(checks=CHECKS.get_all())
