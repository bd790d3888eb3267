"""The sample gallery the web tests share: built once per test module (its own alias and folder), then removed."""

from __future__ import annotations

import pytest

from tests.support.sample_gallery import build_gallery, remove_gallery
from webapp import create_app


@pytest.fixture(scope="module")
def gallery(request, es, base_settings, tiny_models, tmp_path_factory):
    built = build_gallery(es, base_settings, tiny_models, tmp_path_factory.mktemp(f"{request.module.__name__}-gallery"))
    yield built
    remove_gallery(es, built)


@pytest.fixture(scope="module")
def app(gallery):
    return create_app(gallery.settings)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def gallery_env(gallery, monkeypatch):
    """The environment a command-line run needs to search the gallery's index with its models."""
    for name, value in {"IMGSEARCH_INDEX_ALIAS": gallery.settings.index_alias,
                        "IMGSEARCH_DATA_DIR": str(gallery.settings.data_dir),
                        "IMGSEARCH_IMAGE_MODEL": gallery.settings.image_model,
                        "IMGSEARCH_TEXT_MODEL": gallery.settings.text_model}.items():
        monkeypatch.setenv(name, value)
