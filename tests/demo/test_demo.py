"""`imgsearch demo` (what `make run` calls): sample images, the real models or a loud fallback, an index, demo.env."""

from __future__ import annotations

import pytest
from dotenv import dotenv_values

from demo.run import TINY_ALIAS_SUFFIX, demo_env_path, run_demo
from demo.samples import PACKAGE_PHOTOS, SCENES, catalog, ensure_samples, sample_metadata, scene_bytes
from es_search.decode import decode_image
from es_search.index import delete_index
from es_search.tiny_model import is_random_model


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


def test_web_demo_serves_the_demo_samples_themselves(settings, es):
    from demo.run import samples_dir
    from webapp import create_app
    from webapp.cli import demo_web_settings

    tiny_alias = settings.index_alias + TINY_ALIAS_SUFFIX
    try:
        assert run_demo(settings, force_tiny=True, progress=False) == 0
        es.indices.refresh(index=tiny_alias)
        served = demo_web_settings(settings)  # what `imgsearch web --demo` serves with
        assert served.index_alias == tiny_alias and samples_dir(settings) in served.image_roots
        assert settings.image_roots == ()  # nothing configured: the demo's folder is the only root

        client = create_app(served).test_client()
        [cat] = client.get("/api/search", query_string={"tag": "cat"}).json["hits"]
        document = client.get(f"/api/images/{cat['id']}").json
        assert document["image"]["paths"] == ["chelsea-the-cat.png"]  # relative to the samples folder
        assert "original" in document["links"]
        original = client.get(document["links"]["original"])
        assert original.status_code == 200
        assert original.data == (samples_dir(settings) / "chelsea-the-cat.png").read_bytes()
        page = client.get(f"/image/{cat['id']}").get_data(as_text=True)
        assert "IMGSEARCH_IMAGE_ROOTS" not in page  # no "the original is not served" note
        assert str(samples_dir(settings)) not in page

        # The print shop's catalogue lies over the samples: business filters and facets, no extra documents.
        assert es.count(index=tiny_alias)["count"] == len(catalog())
        shop = client.get("/api/search", query_string={"brand": "Studio Sora", "facets": "true", "size": 50}).json
        assert len(shop["hits"]) == 7
        collections = {entry["value"]: entry["count"] for entry in shop["facets"]["collection"]}
        assert collections == {"Landscapes": 3, "Botanicals": 4}
        sold_out = client.get("/api/search", query_string={"in_stock": "false", "price": "..28"}).json
        assert {hit["id"] for hit in sold_out["hits"]} == {
            hit["_id"] for name in ("desert-dunes.jpg", "sunflowers.jpg")
            for hit in es.search(index=tiny_alias, query={"term": {"file_name.keyword": name}})["hits"]["hits"]}
        gallery = client.get("/", query_string={"q": "poster"}).get_data(as_text=True)
        assert "Northlight Prints" in gallery and "Collection" in gallery  # the filter panel offers them
    finally:
        delete_index(es, tiny_alias)
