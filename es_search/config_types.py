"""The value types of the settings: ranges and checks that belong to one value, whatever setting holds it.

Each is an `Annotated` type, so a setting states what it is (`es_heap: HeapSize`) and pydantic runs the
check; config.py keeps only the settings themselves and the rules that tie several together.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field

# What torch takes for `device`: "auto" is resolved by encoders/local.py (CUDA when usable, else CPU).
DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")
INDEX_NAME_FORBIDDEN = ' ,"*\\/<>|?#'

Port = Annotated[int, Field(ge=1, le=65535)]
AtLeastOne = Annotated[int, Field(ge=1)]
KnnBound = Annotated[int, Field(ge=1, le=10_000)]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]


def _oversample(value: float) -> float:
    if value != 0 and not 1 <= value <= 10:
        raise ValueError(f"must be 0 (no rescoring) or between 1 and 10, got {value:g}")
    return value


# Elasticsearch's rescore_vector.oversample: 0 exactly, or 1 to 10.
Oversample = Annotated[float, Field(allow_inf_nan=False), AfterValidator(_oversample)]


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


def _path_list(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(Path(item) for item in value.split(os.pathsep) if item)
    return value


def _expand_home(value: Path) -> Path:
    return value.expanduser()


def _existing_file(value: Path | None) -> Path | None:
    if value is None:
        return None
    path = value.expanduser().absolute()
    if not path.is_file():
        raise ValueError(f"points to {str(path)!r}, which is not a file")
    return path


def _existing_file_name(value: str | None) -> str | None:
    if value and not Path(value).is_file():
        raise ValueError(f"points to {value!r}, which is not a file")
    return value


def _http_urls(value: str | None) -> str | None:
    urls = [url.strip() for url in (value or "").split(",") if url.strip()]
    bad = [url for url in urls if not url.startswith(("http://", "https://"))]
    if bad:
        raise ValueError(f"must start with http:// or https://, got {bad[0]!r}")
    # A URL is printed in messages and by `imgsearch config`: credentials in it would be shown with it.
    # The value is not echoed here, for the same reason.
    if any("@" in urlsplit(url).netloc for url in urls):
        raise ValueError("must not carry credentials (user:password@host): they would be shown wherever the "
                         "address is; give them in their own settings (ES_USERNAME and ES_PASSWORD, or ES_API_KEY)")
    return value


def _heap_size(value: str) -> str:
    heap = value.lower()
    if not (len(heap) >= 2 and heap[:-1].isdigit() and heap[-1] in "mg"):
        raise ValueError(f"must look like 512m or 2g, got {value!r}")
    return value


def _index_name(value: str) -> str:
    if not value or value != value.lower() or any(c in value for c in INDEX_NAME_FORBIDDEN):
        raise ValueError(f"must be a lowercase Elasticsearch index name, got {value!r}")
    return value


def _device_name(value: str) -> str:
    if value in DEVICE_NAMES or (value.startswith("cuda:") and value[len("cuda:"):].isdigit()):
        return value
    raise ValueError(f"must be auto, cpu, cuda, cuda:<n> or mps, got {value!r}")


def _not_empty(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise ValueError("must list at least one label")
    return value


Folder = Annotated[Path, AfterValidator(_expand_home)]
Folders = Annotated[tuple[Path, ...], BeforeValidator(_path_list),
                    AfterValidator(lambda paths: tuple(path.expanduser() for path in paths))]
Labels = Annotated[tuple[str, ...], BeforeValidator(_comma_list), AfterValidator(_not_empty)]
Names = Annotated[tuple[str, ...], BeforeValidator(_comma_list)]  # a comma-separated list, maybe empty
ExistingFile = Annotated[Path | None, AfterValidator(_existing_file)]
ExistingFileName = Annotated[str | None, AfterValidator(_existing_file_name)]
HttpUrls = Annotated[str | None, AfterValidator(_http_urls)]
HeapSize = Annotated[str, AfterValidator(_heap_size)]
IndexName = Annotated[str, AfterValidator(_index_name)]
DeviceName = Annotated[str, AfterValidator(_device_name)]
