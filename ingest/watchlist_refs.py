"""Reference images into a watchlist: any source's items (a folder, a records file, a prefix, uploads) →
fetch → decode → both orientations → hashes and vectors → the watchlists index.

The stages are the ingest's own (fetch.py, prepare.py's bomb-safe decode and thumbnail, encode.py); only the
document differs. Each reference is written twice, as itself and mirrored, each with its own vector, and
both carry the perceptual hashes of the picture and its mirror image, whole and centre-cropped by 6 and 12 %
a side (es_search/watchlists/matching.py says why). A file that cannot be read, decoded or encoded is
reported with the ingest's reason and skipped; the rest are added.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from elasticsearch import Elasticsearch
from PIL import Image, ImageOps

from es_search.config import Settings
from es_search.errors import FileFailure
from es_search.values import now_text
from es_search.watchlists.store import REFERENCE_VECTOR, WatchlistStore
from ingest.encode import encode_batch
from ingest.enrichers.phash import perceptual_hash
from ingest.fetch import FetchFailed, fetch_ahead
from ingest.items import Fetched, Item, ItemProblem
from ingest.prepare import PreparedImage, prepare_image

# Centre crops hashed for each orientation: a copy cropped by up to about 12 % a side still confirms. An 18 %
# crop was tried: no copy needed it, and it gave the closest unrelated pair (8 bits) on the bench's families.
CROP_SHARES = (0.0, 0.06, 0.12)
ORIENTATIONS = ("as_is", "mirrored")


@dataclass
class ReferencesAdded:
    """What became of each item: added to the list, or failed with the ingest's reason."""

    watchlist: str
    added: int = 0
    failed: int = 0
    failures: list[dict] = field(default_factory=list)
    references: list[str] = field(default_factory=list)

    def fail(self, label: str, reason: str, message: str) -> None:
        self.failed += 1
        self.failures.append({"image": label, "reason": reason, "message": message})

    def to_dict(self) -> dict:
        return {"watchlist": self.watchlist, "added": self.added, "failed": self.failed, "failures": self.failures,
                "references": self.references}


def centre_crop(image: Image.Image, share: float) -> Image.Image:
    if not share:
        return image
    width, height = image.size
    dx, dy = int(width * share), int(height * share)
    return image.crop((dx, dy, width - dx, height - dy))


def reference_hashes(image: Image.Image) -> list[str]:
    """The hashes a copy of `image` is compared with: both orientations, whole and centre-cropped."""
    hashes = [perceptual_hash(centre_crop(oriented, share))
              for oriented in (image, ImageOps.mirror(image)) for share in CROP_SHARES]
    return list(dict.fromkeys(hashes))


def add_references(settings: Settings, name: str, items: Iterable[Item | ItemProblem], *, es: Elasticsearch,
                   image_encoder, read_remote: Callable[[str], bytes] | None = None,
                   on_item: Callable[[], None] | None = None) -> ReferencesAdded:
    """Add the images `items` name to watchlist `name` (which must exist); `on_item` is told of each item
    done (a progress bar)."""
    store = WatchlistStore(es, settings.index_alias)
    store.get(name)
    result = ReferencesAdded(name)
    batch: list[PreparedImage] = []
    labels: dict[str, str] = {}
    for fetched in fetch_ahead(items, read_remote, None, settings.decode_workers, 2 * settings.batch_size):
        prepared = _prepared(fetched, settings, result)
        if prepared is not None:
            labels[prepared.facts.sha256] = _label(fetched)
            batch.append(prepared)
        else:
            _tick(on_item)
        if len(batch) >= settings.batch_size:
            _write(store, name, batch, labels, image_encoder, result, on_item)
            batch = []
    _write(store, name, batch, labels, image_encoder, result, on_item)
    return result


def _prepared(fetched, settings: Settings, result: ReferencesAdded) -> PreparedImage | None:
    if isinstance(fetched, ItemProblem):
        result.fail(fetched.label, fetched.reason, fetched.message)
        return None
    if isinstance(fetched, FetchFailed):
        result.fail(fetched.item.label, fetched.reason, fetched.message)
        return None
    try:
        return prepare_image(fetched.facts, settings, fetched.data)
    except FileFailure as failure:
        result.fail(fetched.item.label, failure.reason, failure.message)
    except Exception as exc:  # the decoder maps known failures; anything else is a damaged file
        result.fail(fetched.item.label, "corrupt", f"{type(exc).__name__}: {exc}")
    return None


def _write(store: WatchlistStore, name: str, batch: Sequence[PreparedImage], labels: dict[str, str], encoder,
           result: ReferencesAdded, on_item: Callable[[], None] | None) -> None:
    if not batch:
        return
    images = [oriented for prepared in batch for oriented in (prepared.image, ImageOps.mirror(prepared.image))]
    vectors = encode_batch(encoder, images)
    docs = []
    added_at = now_text()
    for number, prepared in enumerate(batch):
        pair = vectors[2 * number:2 * number + 2]
        sha = prepared.facts.sha256
        failure = next((v for v in pair if isinstance(v, FileFailure)), None)
        if failure is not None:
            result.fail(labels[sha], failure.reason, failure.message)
            continue
        hashes = reference_hashes(prepared.image)
        for orientation, vector in zip(ORIENTATIONS, pair, strict=True):
            docs.append({"kind": "reference", "list": name, "reference": sha, "orientation": orientation,
                         "name": labels[sha], "location": prepared.facts.path or None,
                         "thumbnail": prepared.thumbnail, "phashes": hashes, "added_at": added_at,
                         REFERENCE_VECTOR: [round(float(x), 7) for x in vector]})
        result.references.append(sha)
    store.add_references(docs)
    result.added += len(docs) // 2
    for _ in batch:
        _tick(on_item)


def _label(fetched: Fetched) -> str:
    """How a reviewer sees the reference named: its file's name, else the start of its hash."""
    item = fetched.item
    return item.name or item.file_name or fetched.facts.sha256[:12]


def _tick(on_item: Callable[[], None] | None) -> None:
    if on_item is not None:
        on_item()
