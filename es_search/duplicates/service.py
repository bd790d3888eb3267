"""One entry to near-duplicates for the command line, the web app and the ingest hook: it resolves the
index behind the alias, the thresholds from the settings (or a validated override) and the state files."""

from __future__ import annotations

from elasticsearch import Elasticsearch

from es_search.config import Settings
from es_search.duplicates.grouping import Thresholds, check_thresholds
from es_search.duplicates.listing import Group, GroupPage, group_of, list_groups
from es_search.duplicates.regroup import (
    CheckResult,
    GroupingSummary,
    Progress,
    apply_edges,
    check_thresholds_unchanged,
    find_new_edges,
    record_checked,
    regroup,
)
from es_search.duplicates.state import StateFiles
from es_search.errors import IndexMissing


class DuplicateFinder:
    """Near-duplicate groups of the index behind `settings.index_alias`."""

    def __init__(self, es: Elasticsearch, settings: Settings, *, similarity: float | None = None):
        self.es = es
        self.settings = settings
        self.thresholds: Thresholds = check_thresholds(
            settings.duplicate_similarity if similarity is None else similarity, settings.duplicate_phash_distance)

    def index(self) -> str:
        from es_search.index import indices_behind

        names = indices_behind(self.es, self.settings.index_alias)
        if not names:
            raise IndexMissing(f"no index behind alias {self.settings.index_alias!r}; ingest images first")
        return names[-1]

    def files(self, index: str) -> StateFiles:
        return StateFiles(self.settings.data_dir / "duplicates", index)

    def regroup(self, *, progress: Progress | None = None, restart: bool = False) -> GroupingSummary:
        index = self.index()
        self.es.indices.refresh(index=index)
        return regroup(self.es, index, self.files(index), self.thresholds, neighbours=self.settings.duplicate_neighbours,
                       batch=self.settings.duplicate_batch, progress=progress, restart=restart)

    def total_images(self) -> int:
        return self.es.count(index=self.settings.index_alias)["count"]

    def find_since(self, since: str) -> CheckResult:
        """Confirmed pairs around the images indexed at or after `since`, nothing written (RegroupNeeded when
        the groups were made with other thresholds)."""
        index = self.index()
        check_thresholds_unchanged(self.files(index), index, self.thresholds, self.settings.duplicate_neighbours)
        self.es.indices.refresh(index=index)
        return find_new_edges(self.es, index, since, self.thresholds, neighbours=self.settings.duplicate_neighbours,
                              batch=self.settings.duplicate_batch)

    def join(self, result: CheckResult, since: str) -> int:
        """Write the groups `result`'s pairs make (joining or starting groups) and mark `since` as checked."""
        index = self.index()
        files = self.files(index)
        state = check_thresholds_unchanged(files, index, self.thresholds, self.settings.duplicate_neighbours)
        result.updated = apply_edges(self.es, index, result.edges)
        if files.load() is not None:
            # Without a full pass yet, images older than `since` were never checked: no mark, so that
            # `imgsearch duplicates` still runs the full pass.
            record_checked(files, state, since)
        return result.updated

    def check_since(self, since: str) -> CheckResult:
        result = self.find_since(since)
        self.join(result, since)
        return result

    def pending_since(self) -> str | None:
        """Where an incremental check should start: the saved mark, or None when nothing was grouped yet."""
        index = self.index()
        state = self.files(index).load()
        return state.checked_until if state is not None and state.index == index else None

    def groups(self, page: int = 1, size: int = 20) -> GroupPage:
        return list_groups(self.es, self.settings.index_alias, page=page, size=size)

    def group(self, group_id: str) -> Group:
        return group_of(self.es, self.settings.index_alias, group_id)
