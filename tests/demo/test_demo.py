"""`imgsearch demo` (what `make run` calls): sample images, the real models or a loud fallback, an index, demo.env."""

from __future__ import annotations

import pytest
from dotenv import dotenv_values

from es_search.decode import decode_image
from es_search.index import delete_index
from es_search.tiny_model import is_random_model
from ingest.demo import TINY_ALIAS_SUFFIX, demo_env_path, run_demo
from ingest.samples import PACKAGE_PHOTOS, SCENES, catalog, ensure_samples, sample_metadata, scene_bytes


def test_samples_are_real_photos_from_an_installed_package_plus_generated_scenes(tmp_path, base_settings):
    paths = ensure_samples(tmp_path / "samples")
    names = {p.name for p in paths}
    assert len(paths) >= 30
    assert {s.file_name for s in PACKAGE_PHOTOS.values()} <= names  # scikit-image is a dependency: its photos ship
    assert set(SCENES) <= names
    for path in paths:
        decode_image(path, base_settings)  # every sample is a valid image
        meta = sample_metadata(str(path))
        assert meta["title"] and meta["tags"], path.name
    assert sample_metadata(str(tmp_path / "not-a-sample.jpg")) is None


def test_generated_scenes_are_the_same_on_every_machine_run():
    name = next(iter(SCENES))
    assert scene_bytes(name, 0) == scene_bytes(name, 0)
    assert len({scene_bytes(n, i) for i, n in enumerate(SCENES)}) == len(SCENES)  # all different


@pytest.fixture
def demo_settings(settings):
    # A model folder that does not exist stands for "the real weights cannot be had here".
    yield settings.with_overrides(image_model=str(settings.data_dir / "no-real-weights" / "clip-ViT-B-32"))


def test_without_real_weights_the_demo_says_so_loudly_and_runs_end_to_end_on_tiny_models(demo_settings, es, capsys):
    tiny_alias = demo_settings.index_alias + TINY_ALIAS_SUFFIX
    try:
        assert run_demo(demo_settings, progress=False) == 0
        out, err = capsys.readouterr()
        assert "THE REAL MODEL WEIGHTS ARE NOT AVAILABLE" in err
        assert "IMGSEARCH_IMAGE_MODEL=/path/to/clip-ViT-B-32" in err  # how to point at local weights

        env = dotenv_values(demo_env_path(demo_settings))
        assert env["IMGSEARCH_INDEX_ALIAS"] == tiny_alias  # random vectors never land in the real index
        assert is_random_model(env["IMGSEARCH_IMAGE_MODEL"]) and is_random_model(env["IMGSEARCH_TEXT_MODEL"])

        es.indices.refresh(index=tiny_alias)
        samples = len(catalog())
        assert es.count(index=tiny_alias)["count"] == samples
        assert not es.indices.exists_alias(name=demo_settings.index_alias)
        cat = es.search(index=tiny_alias, query={"term": {"tags": "cat"}})["hits"]["hits"]
        assert [hit["_source"]["title"] for hit in cat] == ["Chelsea the cat"]

        assert run_demo(demo_settings, progress=False) == 0  # running it again changes nothing
        assert "indexed (new documents): 0" in capsys.readouterr().out
        assert es.count(index=tiny_alias)["count"] == samples
    finally:
        delete_index(es, tiny_alias)


def test_the_demo_can_be_told_to_use_the_tiny_models(settings, es):
    tiny_alias = settings.index_alias + TINY_ALIAS_SUFFIX
    try:
        assert run_demo(settings, force_tiny=True, progress=False) == 0
        env = dotenv_values(demo_env_path(settings))
        assert env["IMGSEARCH_INDEX_ALIAS"] == tiny_alias
    finally:
        delete_index(es, tiny_alias)
