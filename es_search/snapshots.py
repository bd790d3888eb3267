"""Backups: a deployment's indices as an Elasticsearch snapshot, its thumbnails beside it, and a restore that
brings both back without stopping searches.

What one snapshot holds: the index behind the alias (the images, their vectors and the near-duplicate groups,
which are fields of the documents) and the deployment's own small indices where they exist: API keys
(`<alias>-apikeys`), people's names (`<alias>-people`) and watchlists (`<alias>-watchlists`). Cluster state is
left out (`include_global_state: false`): a restore touches nothing else on the cluster.

Thumbnails are files under DATA_DIR/thumbnails, named by content hash, so the same name always holds the same
bytes: each snapshot copies into the thumbnails store (`IMGSEARCH_SNAPSHOT_THUMBNAILS_DIR`, DATA_DIR/backups)
only the files it does not hold yet, and writes a manifest of every thumbnail its documents name. A restore
copies back those that are missing.

A restore goes into a new index (`new_index_name`), then swaps the alias to it in one request, so searches
answer from the old index until the restored one is whole; the old index is kept unless asked. The small
indices are replaced by their snapshot copies (keys made after the snapshot are gone: a restore is that
moment's state).
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from elasticsearch import Elasticsearch
from elasticsearch import exceptions as es_exceptions

from es_search.apikeys import keys_index
from es_search.config import Settings
from es_search.elastic_errors import root_reason
from es_search.errors import ConfigError, ImgsearchError
from es_search.index import indices_behind, new_index_name, swap_alias

SNAPSHOT_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,200}$")
MANIFESTS = "manifests"


class SnapshotError(ImgsearchError):
    """A snapshot that could not be made, listed or restored; the message says why and what to do."""

    exit_code, http_status, code = 3, 503, "snapshot_failed"


class SnapshotNotFound(SnapshotError, LookupError):
    exit_code, http_status, code = 1, 404, "snapshot_not_found"


def side_indices(settings: Settings) -> list[str]:
    """The deployment's own small indices a snapshot carries beside the images."""
    alias = settings.index_alias
    return [keys_index(settings), f"{alias}-people", f"{alias}-watchlists"]


def repository_body(settings: Settings, local_repo: Path | None) -> dict:
    """The repository's definition: S3 where a bucket is named, else a shared filesystem at
    IMGSEARCH_SNAPSHOT_LOCATION, else the local node's own `path.repo` folder."""
    if settings.snapshot_s3_bucket:
        return {"type": "s3", "settings": {"bucket": settings.snapshot_s3_bucket, "base_path": settings.index_alias}}
    location = settings.snapshot_location or (str(local_repo / settings.snapshot_repository) if local_repo else None)
    if not location:
        raise ConfigError("no snapshot repository: set IMGSEARCH_SNAPSHOT_LOCATION (a folder every node of the "
                          "cluster shares, listed in its path.repo) or IMGSEARCH_SNAPSHOT_S3_BUCKET")
    return {"type": "fs", "settings": {"location": location}}


def thumbnails_store(settings: Settings) -> Path:
    return Path(settings.snapshot_thumbnails_dir or settings.data_dir / "backups") / "thumbnails"


class Snapshots:
    """The snapshots of one deployment (`settings.index_alias`) in its repository."""

    def __init__(self, es: Elasticsearch, settings: Settings, local_repo: Path | None = None):
        self.es = es
        self.settings = settings
        self.repository = settings.snapshot_repository
        self.local_repo = local_repo

    def ensure_repository(self) -> dict:
        """Register the repository (idempotent) and return its definition."""
        body = repository_body(self.settings, self.local_repo)
        try:
            self.es.snapshot.create_repository(name=self.repository, repository=body)
        except es_exceptions.ApiError as exc:
            raise SnapshotError(_repository_advice(body, root_reason(exc.body))) from None
        return body

    def create(self, name: str | None = None) -> dict:
        """Snapshot the deployment now (waiting until it is complete) and store its new thumbnails."""
        alias = self.settings.index_alias
        main = indices_behind(self.es, alias)
        if not main:
            raise SnapshotError(f"nothing to back up: no index behind {alias!r}")
        name = name or f"{alias}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}".lower()
        if not SNAPSHOT_NAME.match(name):
            raise SnapshotError(f"{name!r} is not a snapshot name: lower-case letters, digits, - _ and .")
        self.ensure_repository()
        indices = main[-1:] + [index for index in side_indices(self.settings) if self.es.indices.exists(index=index)]
        try:
            response = self.es.snapshot.create(
                repository=self.repository, snapshot=name, indices=",".join(indices), include_global_state=False,
                wait_for_completion=True, metadata={"alias": alias, "images_index": main[-1],
                                                    "made_by": "imgsearch snapshot create"})
        except es_exceptions.ApiError as exc:
            raise SnapshotError(f"the snapshot {name!r} failed: {root_reason(exc.body)}") from None
        snapshot = response["snapshot"]
        if snapshot.get("state") != "SUCCESS":
            raise SnapshotError(f"the snapshot {name!r} ended {snapshot.get('state')}: {snapshot.get('failures')}")
        thumbnails = self._store_thumbnails(name, main[-1])
        return {"snapshot": name, "repository": self.repository, "indices": snapshot["indices"],
                "state": snapshot["state"], "documents": self.es.count(index=main[-1])["count"], **thumbnails}

    def list(self) -> list[dict]:
        """This deployment's snapshots, oldest first."""
        self.ensure_repository()
        try:
            found = self.es.snapshot.get(repository=self.repository, snapshot="_all")["snapshots"]
        except es_exceptions.ApiError as exc:
            raise SnapshotError(f"the snapshots could not be listed: {root_reason(exc.body)}") from None
        mine = [s for s in found if (s.get("metadata") or {}).get("alias") == self.settings.index_alias]
        return [{"snapshot": s["snapshot"], "state": s["state"], "started": s.get("start_time"),
                 "indices": s["indices"], "images_index": s["metadata"]["images_index"]} for s in mine]

    def restore(self, name: str, delete_old: bool = False) -> dict:
        """Bring a snapshot back: its images into a new index behind the alias, its small indices in place of
        the current ones, its thumbnails where they are missing."""
        snapshot = self._get(name)
        alias = self.settings.index_alias
        images = snapshot["metadata"]["images_index"]
        target = new_index_name(alias)
        self._restore(name, images, rename_to=target)
        side = [index for index in snapshot["indices"] if index != images]
        for index in side:
            self.es.options(ignore_status=404).indices.delete(index=index)
            self._restore(name, index)
        old = swap_alias(self.es, alias, target)
        if delete_old:
            for index in old:
                self.es.indices.delete(index=index)
        return {"snapshot": name, "alias": alias, "to": target, "from": old, "deleted": old if delete_old else [],
                "side_indices": side, "documents": self.es.count(index=target)["count"],
                "thumbnails_restored": self._restore_thumbnails(name)}

    # ---------------------------------------------------------------- pieces

    def _get(self, name: str) -> dict:
        self.ensure_repository()
        try:
            found = self.es.snapshot.get(repository=self.repository, snapshot=name)["snapshots"]
        except es_exceptions.NotFoundError:
            found = []
        except es_exceptions.ApiError as exc:
            raise SnapshotError(f"the snapshot {name!r} could not be read: {root_reason(exc.body)}") from None
        if not found or (found[0].get("metadata") or {}).get("alias") != self.settings.index_alias:
            raise SnapshotNotFound(f"no snapshot {name!r} of {self.settings.index_alias!r} in the repository "
                                   f"{self.repository!r} (imgsearch snapshot list)")
        return found[0]

    def _restore(self, name: str, index: str, rename_to: str | None = None) -> None:
        rename = {"rename_pattern": "(.+)", "rename_replacement": rename_to} if rename_to else {}
        try:
            response = self.es.snapshot.restore(repository=self.repository, snapshot=name, indices=index,
                                                include_global_state=False, include_aliases=False,
                                                wait_for_completion=True, **rename)
        except es_exceptions.ApiError as exc:
            raise SnapshotError(f"restoring {index} from {name!r} failed: {root_reason(exc.body)}") from None
        shards = response["snapshot"]["shards"]
        if shards.get("failed"):
            raise SnapshotError(f"restoring {index} from {name!r}: {shards['failed']} shards failed")

    def _store_thumbnails(self, name: str, index: str) -> dict:
        """Copy the thumbnails the index's documents name into the store (those it lacks), and list them."""
        from elasticsearch import helpers

        source_dir, store = Path(self.settings.thumbnails_dir), thumbnails_store(self.settings)
        named: list[str] = []
        copied = missing = 0
        for hit in helpers.scan(self.es, index=index, query={"query": {"exists": {"field": "thumbnail"}}},
                                _source=["thumbnail"], size=1000):
            relative = hit["_source"].get("thumbnail")
            if not isinstance(relative, str) or not _safe_relative(relative):
                continue
            named.append(relative)
            target, source = store / relative, source_dir / relative
            if target.exists():
                continue
            if not source.is_file():
                missing += 1
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            copied += 1
        manifest = store.parent / MANIFESTS / f"{name}.json"
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text(json.dumps({"snapshot": name, "thumbnails": sorted(set(named))}), encoding="utf-8")
        return {"thumbnails": len(set(named)), "thumbnails_copied": copied, "thumbnails_missing": missing}

    def _restore_thumbnails(self, name: str) -> int:
        manifest = thumbnails_store(self.settings).parent / MANIFESTS / f"{name}.json"
        if not manifest.is_file():
            return 0
        store, target_dir = thumbnails_store(self.settings), Path(self.settings.thumbnails_dir)
        restored = 0
        for relative in json.loads(manifest.read_text(encoding="utf-8"))["thumbnails"]:
            source, target = store / relative, target_dir / relative
            if _safe_relative(relative) and source.is_file() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
                restored += 1
        return restored


def _safe_relative(relative: str) -> bool:
    """A thumbnail path as documents hold it: relative, inside its folder."""
    path = Path(relative)
    return not path.is_absolute() and ".." not in path.parts


def _repository_advice(body: dict, message: str) -> str:
    if "path.repo" in message:
        return (f"the cluster does not allow the folder {body['settings'].get('location')!r} for snapshots: it "
                "must be under a folder in the path.repo of every node (the local node sets its own; restart it "
                "with `imgsearch node stop && imgsearch node start` if it was started by an older version), or "
                "set IMGSEARCH_SNAPSHOT_LOCATION to such a folder")
    if "repository type" in message and ("does not exist" in message or "unknown" in message):
        return (f"the cluster cannot make {body['type']} repositories (the repository-{body['type']} module is "
                f"missing): {message}")
    return f"the snapshot repository could not be registered: {message}"
