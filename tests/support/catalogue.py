"""A small shop for the records tests: a schema file with business fields, images, and records files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.support.ingest_cases import jpeg

SCHEMA = {"fields": [
    {"name": "brand", "type": "keyword", "facet": True, "show": True, "label": {"en": "Brand", "zh": "品牌"}},
    {"name": "price", "type": "float", "show": True, "label": {"en": "Price", "zh": "价格"}},
    {"name": "stock", "type": "integer", "label": {"en": "Stock", "zh": "库存"}},
    {"name": "in_stock", "type": "boolean", "facet": True, "label": {"en": "In stock", "zh": "有货"}},
    {"name": "released", "type": "date", "label": {"en": "Released", "zh": "上市"}},
    {"name": "description", "type": "text", "search": 1, "label": {"en": "Description", "zh": "描述"}},
]}
BRANDS = ("acme", "globex", "initech", "umbrella")


def write_schema(folder: Path) -> Path:
    path = Path(folder) / "catalogue-fields.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(SCHEMA), encoding="utf-8")
    return path


def make_images(folder: Path, seeds, size=(96, 72)) -> dict[int, Path]:
    """One small JPEG per seed, `folder/img-<seed>.jpg`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for seed in seeds:
        path = folder / f"img-{seed:04d}.jpg"
        path.write_bytes(jpeg(seed, size=size))
        paths[seed] = path
    return paths


def product_row(n: int, image: str) -> dict:
    """The business fields of product n (as a CSV would carry them: text)."""
    return {"id": f"SKU-{n:04d}", "image": image, "brand": BRANDS[n % len(BRANDS)], "price": f"{n % 50 + 0.5}",
            "stock": str(n % 7), "in_stock": "true" if n % 7 else "false", "released": f"2024-0{n % 9 + 1}-15",
            "description": f"product number {n}"}


def write_csv(path: Path, rows: list[dict], columns: list[str] | None = None) -> Path:
    columns = columns or list(rows[0])
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path
