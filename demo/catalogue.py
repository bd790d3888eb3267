"""The demo's sample catalogue: a print shop selling the generated scenes as posters (demo/shop/).

`products.csv` gives brand, price, in-stock and collection for most scenes; `fields.yaml` declares those
fields, so the gallery shows them as filters and facets. The rows carry no id on purpose: a row without
an id belongs to its image's content-hash document, so the shop's fields are laid over the sample photos
the demo indexed a moment before (one document per image, no twin of each product), with no decoding or
encoding. The CSV names its images by file name, relative to the CSV's own folder, so the demo puts a
copy of it beside the samples.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from es_search.config import Settings

SHOP_DIR = Path(__file__).resolve().parent / "shop"
PRODUCTS = SHOP_DIR / "products.csv"
FIELDS = SHOP_DIR / "fields.yaml"
SOURCE = "demo:print-shop"


def with_shop_fields(settings: Settings) -> tuple[Settings, bool]:
    """(settings with the shop's schema file, True), or (settings, False) when the user has a schema of their own."""
    if settings.fields_file is not None:
        return settings, False
    return settings.with_overrides(fields_file=FIELDS), True


def place_products(samples: Path) -> Path:
    """The products file, copied beside the sample images its rows name; returns the copy."""
    target = Path(samples) / PRODUCTS.name
    shutil.copyfile(PRODUCTS, target)
    return target
