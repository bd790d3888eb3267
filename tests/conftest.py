"""Shared fixtures: a real Elasticsearch node for the session, and a fresh index alias per test.

With ES_URL set the tests use that cluster; otherwise the local node is started (a no-op when running).
A node that cannot be reached fails the run: these tests never skip for want of Elasticsearch.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from es_search import node
from es_search.client import build_client, check_cluster
from es_search.config import Settings, load_settings
from es_search.index import delete_index

# Text inside images is read only where a test asks for it (tests/ingest/test_ocr.py and the others that set
# `ocr`): the other ingests, and the command-line runs they start, keep the speed they were written for.
os.environ.setdefault("IMGSEARCH_OCR", "off")

# Fixtures that start or reach an Elasticsearch node: a test using any of them (directly or through other
# fixtures) is marked `es`, and `make test-fast` leaves it out.
NODE_FIXTURES = frozenset({"es", "secured_node", "cluster"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if NODE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.es)


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    # No rate of expensive requests: a test makes them as fast as it can, one client; the limits have their own
    # tests (tests/es_search/test_limits.py, tests/webapp/test_overload.py).
    return load_settings().with_overrides(expensive_rate=0.0, key_expensive_rate=0.0)


@pytest.fixture(scope="session")
def es(base_settings):
    if base_settings.uses_local_node:
        node.start(base_settings)
    client = build_client(base_settings)
    check_cluster(client, base_settings)  # raises ClusterUnavailable: the session errors, it does not skip
    yield client
    client.close()


@pytest.fixture
def settings(base_settings, es, tmp_path) -> Settings:
    """Settings with an alias of this test's own and a data folder in tmp; the indices are deleted afterwards."""
    alias = f"test-{uuid.uuid4().hex[:12]}"
    yield base_settings.with_overrides(index_alias=alias, data_dir=tmp_path / "data")
    delete_index(es, alias)


# --------------------------------------------------------------------------- tiny random models


@dataclass(frozen=True)
class TinyModels:
    """Paths of the two tiny random sentence-transformers folders and the size of their vectors."""

    image: Path
    text: Path
    dims: int


@pytest.fixture(scope="session")
def tiny_models(base_settings) -> TinyModels:
    """A tiny CLIP (image) and tiny multilingual text model, built offline once and reused across runs."""
    from es_search.tiny_model import TINY_MODEL_VERSION, make_tiny_models

    dims = 32
    image, text = make_tiny_models(base_settings.data_dir / "test-models" / f"v{TINY_MODEL_VERSION}", dims=dims)
    return TinyModels(image=image, text=text, dims=dims)


@pytest.fixture
def tiny_settings(settings, tiny_models) -> Settings:
    """`settings` with the image and text models pointing at the tiny random folders."""
    return settings.with_overrides(image_model=str(tiny_models.image), text_model=str(tiny_models.text))


# --------------------------------------------------------------------------- remote images: S3 and HTTP servers


@pytest.fixture(scope="session")
def s3_server():
    """moto's standalone S3 server on a free loopback port, for the whole session (tests/support/s3_server.py)."""
    from tests.support.s3_server import MotoServer

    with MotoServer() as server:
        yield server


@pytest.fixture
def http_server():
    """A scripted HTTP server on loopback for one test (tests/support/http_server.py)."""
    from tests.support.http_server import ScriptedHTTPServer

    with ScriptedHTTPServer() as server:
        yield server


@pytest.fixture
def remote_settings(settings, s3_server) -> Settings:
    """`settings` pointed at the test S3 server, with loopback URLs allowed and quick retries."""
    return settings.with_overrides(**s3_server.settings_overrides(), **QUICK_FETCH)


# Retries that do not slow the tests down, and timeouts short enough for the stall routes.
QUICK_FETCH = {"allow_private_addresses": True, "fetch_backoff": 0.01, "fetch_read_timeout": 2.0,
               "fetch_connect_timeout": 2.0, "fetch_total_timeout": 20.0}


# --------------------------------------------------------------------------- a node with security on


@pytest.fixture(scope="session")
def secured_node(base_settings, tmp_path_factory) -> Settings:
    """A node of the session's own with Elasticsearch security on (tests/support/own_nodes.py): its
    superuser's settings. Started at first use, stopped and removed at the end of the session."""
    from tests.support.local_cluster import running_nodes
    from tests.support.own_nodes import secured_settings

    with running_nodes(secured_settings(base_settings, tmp_path_factory.mktemp("secured") / "data")) as settings:
        yield settings
