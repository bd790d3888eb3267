"""A watchlist against the images indexed already (`imgsearch watchlist scan`): resumable, in pages.

Each page of the collection (in `image_id` order, so a page boundary never splits ties) is checked against
one list, exactly as the door checks new images, and the verdicts are merged into the documents' watchlist
fields: the other lists' matches stay, this list's are replaced. A scan never deletes: a list whose policy is
`refuse` holds the existing images it matches, for a reviewer to delete or release. A released image stays
released unless this list matched it anew. The position is saved after each page (DATA_DIR/watchlists/), so
an interrupted scan goes on where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from elasticsearch import Elasticsearch, helpers

from es_search.config import Settings
from es_search.fields import VECTOR_FIELD
from es_search.watchlists.lists import RELEASED, STATUS_OF, strongest
from es_search.watchlists.matching import HASH_FIELDS, MATCH_FIELDS, Candidate, Verdict
from es_search.watchlists.screen import Screener

PAGE = 200
SCAN_SORT = [{"image_id": "asc"}]


@dataclass
class ScanProgress:
    after: list | None = None
    checked: int = 0
    matched: int = 0
    changed: int = 0
    done: bool = False


def merged_fields(source: Mapping, name: str, verdict: Verdict) -> dict | None:
    """The watchlist fields a document should have once list `name` gave `verdict` (pure); None when they
    stay as they are. A scan holds where the list would refuse."""
    kept = [match for match in source.get("watchlist_matches") or () if match.get("list") != name]
    before = [match for match in source.get("watchlist_matches") or () if match.get("list") == name]
    new = [match.to_dict() for match in verdict.matches]
    if not new and not before:
        return None
    matches = kept + new
    if not matches:
        return {"watchlist_status": None, "watchlists": None, "watchlist_matches": None}
    policy = strongest([match["policy"] for match in matches])
    status = STATUS_OF["hold"] if policy == "refuse" else STATUS_OF[policy]
    if source.get("watchlist_status") == RELEASED and {m.get("reference") or m.get("prompt") for m in new} <= \
            {m.get("reference") or m.get("prompt") for m in before}:
        status = RELEASED  # reviewed already, and nothing new matched
    fields = {"watchlist_status": status, "watchlists": list(dict.fromkeys(m["list"] for m in matches)),
              "watchlist_matches": matches}
    return None if all(source.get(key) == value for key, value in fields.items()) else fields


def state_path(settings: Settings, name: str) -> Path:
    return Path(settings.data_dir) / "watchlists" / f"scan-{settings.index_alias}-{name}.json"


def scan_collection(es: Elasticsearch, settings: Settings, name: str, *, restart: bool = False,
                    on_page: Callable[[int, ScanProgress], None] | None = None) -> ScanProgress:
    """Check every indexed image against watchlist `name`; `on_page(images, progress)` after each page."""
    screener = Screener(es, settings.index_alias)
    screener.store.get(name)
    path = state_path(settings, name)
    progress = ScanProgress() if restart or not path.is_file() else ScanProgress(**json.loads(path.read_text()))
    if progress.done:
        progress = ScanProgress()
    source_fields = [VECTOR_FIELD, *HASH_FIELDS, *MATCH_FIELDS]
    while True:
        body: dict = {"query": {"exists": {"field": VECTOR_FIELD}}, "sort": SCAN_SORT, "size": PAGE,
                      "track_total_hits": False}
        if progress.after:
            body["search_after"] = progress.after
        hits = es.search(index=settings.index_alias, source_includes=source_fields, source_exclude_vectors=False,
                         **body)["hits"]["hits"]
        if not hits:
            break
        verdicts = screener.check([Candidate.of_content(hit["_source"]) for hit in hits], only=name)
        actions = []
        for hit, verdict in zip(hits, verdicts, strict=True):
            progress.matched += bool(verdict.matches)
            fields = merged_fields(hit["_source"], name, verdict)
            if fields is not None:
                actions.append({"_op_type": "update", "_index": settings.index_alias, "_id": hit["_id"], "doc": fields})
        if actions:
            helpers.bulk(es, actions)
            progress.changed += len(actions)
        progress.checked += len(hits)
        progress.after = hits[-1]["sort"]
        _save(path, progress)
        if on_page is not None:
            on_page(len(hits), progress)
    progress.done = True
    _save(path, progress)
    es.indices.refresh(index=settings.index_alias)
    return progress


def _save(path: Path, progress: ScanProgress) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(progress)))
    temporary.replace(path)
