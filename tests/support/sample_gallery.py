"""A small real gallery for the web tests: generated photos ingested by the real pipeline with the tiny models."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from es_search.config import Settings
from es_search.index import delete_index

HOSTILE_NAME = "<img src=x onerror=alert(1)>"

# file name → (size, colour, format, metadata given to the ingest as if from a sidecar)
PHOTOS = {
    "red_apple.jpg": ((400, 300), (200, 30, 30), "JPEG", {"tags": ["fruit", "red"]}),
    "blue_sky.png": ((640, 480), (40, 90, 220), "PNG", {"tags": ["sky"]}),
    "green_field.jpg": ((1024, 768), (40, 180, 60), "JPEG", {"tags": ["grass"]}),
    "grey_cat.jpg": ((200, 200), (128, 128, 128), "JPEG", {"title": "灰色的猫", "tags": ["cat"]}),
    "orange_sunset.jpg": ((800, 600), (250, 140, 20), "JPEG", {"tags": ["sky", "sun"]}),
    f"{HOSTILE_NAME}.png": ((300, 300), (230, 230, 240), "PNG", {"tags": ["<b>bold</b>"]}),
}


@dataclass
class Gallery:
    settings: Settings
    photos: Path
    ids: dict[str, str]  # file name → image id

    def id_of(self, file_name: str) -> str:
        return self.ids[file_name]


def draw_photo(path: Path, size: tuple[int, int], color: tuple[int, int, int], image_format: str) -> None:
    image = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(image)
    # A pattern, so no two photos (and no two thumbnails) are the same bytes.
    for i in range(0, size[0], 37):
        draw.line([(i, 0), (size[0] - i, size[1])], fill=tuple(255 - c for c in color), width=3)
    image.save(path, format=image_format)


def build_gallery(es, base_settings: Settings, tiny_models, folder: Path) -> Gallery:
    """Photos on disk, ingested into an alias of their own; the caller removes it with `remove_gallery`."""
    from ingest.runner import run_ingest

    photos = folder / "photos"
    photos.mkdir(parents=True)
    for name, (size, color, image_format, _) in PHOTOS.items():
        draw_photo(photos / name, size, color, image_format)
    settings = base_settings.with_overrides(
        index_alias=f"test-web-{uuid.uuid4().hex[:12]}", data_dir=folder / "data",
        image_model=str(tiny_models.image), text_model=str(tiny_models.text))
    summary = run_ingest(settings, [photos], es=es,
                         metadata_for=lambda path: PHOTOS[Path(path).name][3])
    assert summary.indexed == len(PHOTOS), summary
    es.indices.refresh(index=settings.index_alias)
    hits = es.search(index=settings.index_alias, size=100, source=["file_name"])["hits"]["hits"]
    ids = {hit["_source"]["file_name"]: hit["_id"] for hit in hits}
    return Gallery(settings=settings, photos=photos, ids=ids)


def remove_gallery(es, gallery: Gallery) -> None:
    delete_index(es, gallery.settings.index_alias)
