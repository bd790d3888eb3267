"""One ingest run with everything it needs set up: cluster check, models, index, local state, report, progress.

This is the I/O edge the CLI and the demo call. Every kind of source (ingest/sources/) runs through
`run_source`, and so through the one pipeline: folders (and list files), a records file, an object-storage
prefix. A complete run may end with a prune of its source and a near-duplicate check of its new images.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from elasticsearch import ApiError, AuthorizationException, Elasticsearch, TransportError

from es_search.config import Settings
from es_search.elastic_errors import missing_index_message, translate
from es_search.errors import ConfigError
from es_search.fields import registry_for
from es_search.index import indices_behind
from es_search.remote import RemoteReader
from ingest.document import iso_utc
from ingest.enrichers import Enricher, build_enrichers
from ingest.near_duplicates import check_new_images
from ingest.pipeline import Pipeline, RunOptions
from ingest.prune import PruneChange, apply_changes, find_stale
from ingest.report import FailureReport, IngestSummary, RunSink, Tally, report_path
from ingest.seen import SeenKeys
from ingest.shard import WHOLE, Shard
from ingest.sources import Source
from ingest.sources.folder import FolderSource
from ingest.sources.prefix import PrefixSource
from ingest.sources.records import RecordsSource
from ingest.state import IndexedFiles, state_path


@dataclass
class Prepared:
    """What every run shares once the cluster, models and index are ready."""

    es: Elasticsearch
    image_encoder: object
    enrichers: list[Enricher]
    index_name: str


def prepare_run(settings: Settings, es: Elasticsearch | None = None, image_encoder=None, text_encoder=None,
                log: Callable[[str], None] | None = None) -> Prepared:
    """Cluster check, encoders (the configured ones, never swapped), the index (created when missing)."""
    from es_search.client import build_client, check_cluster
    from es_search.index import ensure_index

    es = es or build_client(settings)
    check_cluster(es, settings)
    if image_encoder is None or text_encoder is None:
        from es_search.encoders import build_image_encoder, build_text_encoder

        image_encoder = image_encoder or build_image_encoder(settings)
        text_encoder = text_encoder or build_text_encoder(settings, es)
    try:
        index_name = ensure_index(es, settings, image_encoder.dims)
    except AuthorizationException as exc:  # e.g. credentials that may read the index but not create it
        raise translate(exc, url=settings.node_url, missing=missing_index_message(settings.index_alias)) from None
    enrichers = build_enrichers(settings, text_encoder)
    if log is not None:
        log(f"ingest into {settings.index_alias} ({index_name}) at {settings.node_url}; image model "
            f"{image_encoder.name} ({settings.image_backend}, {image_encoder.dims}-d), batch {settings.batch_size}, "
            f"{settings.decode_workers} decode threads; enrichers {', '.join(e.name for e in enrichers)}")
    return Prepared(es, image_encoder, enrichers, index_name)


def run_source(settings: Settings, source: Source, *, es: Elasticsearch | None = None, image_encoder=None,
               text_encoder=None, progress: bool = False, recheck: bool = False, prune: bool = False,
               log: Callable[[str], None] | None = None, on_near_duplicate: str = "index") -> IngestSummary:
    """Index everything `source` names into `settings.index_alias`; the summary says what became of it.

    Raises ClusterUnavailable before starting when Elasticsearch cannot be reached, EncoderUnavailable when
    a model cannot be loaded, SchemaMismatch when the index cannot take the registry's fields or vectors.
    `prune`: afterwards, take off the index what the source no longer holds (only after a complete run).
    Once every document is acknowledged, the new images are checked for near-duplicates (`on_near_duplicate`:
    index, skip or report; see ingest/near_duplicates.py). `recheck`: ignore the local record of files.
    """
    ready = prepare_run(settings, es, image_encoder, text_encoder, log)
    _refresh_for_reuse(ready.es, settings.index_alias)
    report = FailureReport(report_path(settings.reports_dir))
    state = IndexedFiles(state_path(settings.data_dir), ready.index_name)
    seen = SeenKeys(settings.data_dir) if prune or source.checks_ids else None
    bar = _progress_bar(source) if progress else None
    reader = RemoteReader(settings) if source.remote else None  # one per run: warm connections, one S3 client
    sink = RunSink(Tally(bar), report)
    width = settings.fetch_concurrency if source.remote else settings.decode_workers
    watched = WatchlistTally()
    pipeline = Pipeline(ready.es, settings, ready.image_encoder, sink=sink, enrichers=ready.enrichers, state=state,
                        seen=seen, read_remote=reader.read if reader else None, recheck=recheck,
                        options=RunOptions.from_settings(settings, fetch_width=width),
                        roots=_roots(settings, source), on_watchlist_match=watched.add)
    summary = None
    started = iso_utc()
    try:
        end = pipeline.run(_with_frames(source.items(), settings, bar, log))
        summary = sink.tally.summary(unfinished=end.unfinished, stopped=end.stopped, error=end.error,
                                     report=str(report.path))
        summary.watchlist_matches = watched.counts()
        if prune and summary.stopped is None:
            refusal = source.prune_refusal()
            if refusal:
                summary.error = refusal
            else:
                _prune(ready.es, settings.index_alias, source, seen, summary)
    finally:
        if bar is not None:
            bar.close()
        state.close()
        if summary is not None and not summary.stopped and summary.indexed:
            _near_duplicates(ready.es, settings, summary, started, on_near_duplicate, log)
        if summary is not None and not summary.stopped and settings.faces == "on":
            _people(ready.es, settings, summary, started)
        report.close(summary)
        if seen is not None:
            seen.close()
        if reader is not None:
            reader.close()
    return summary


def run_ingest(settings: Settings, sources: Iterable[str | Path] = (), list_files: Iterable[str | Path] = (), *,
               metadata_for: Callable[[str], dict | None] | None = None, shard: Shard = WHOLE,
               **options) -> IngestSummary:
    """Index every image under the folders `sources` and in `list_files` (`run_source`'s options apply).

    With `shard` I/N, only the files whose path (relative to the deepest of `sources` holding it) hashes
    to shard I, and only their failures: N such runs, on any machines, cover the input exactly once.
    `metadata_for(path)` may give a new document its title, caption and tags (the demo's sample photos).
    """
    source = FolderSource([str(s) for s in sources], [str(f) for f in list_files], shard=shard,
                          exclude=[str(settings.thumbnails_dir)], fields_for=metadata_for)
    return run_source(settings, source, **options)


def run_records_ingest(settings: Settings, records_file: str | Path, *, source: str | None = None,
                       image_column: str = "image", id_column: str = "id", shard: Shard = WHOLE,
                       **options) -> IngestSummary:
    """Index the rows of a records file (CSV or JSON Lines); see ingest/records.py for what a row may hold.

    The file is checked as a whole first (RecordsFileError: nothing is indexed). `source` names the file in
    the documents' `sources` (default: its absolute path), which is what `prune` goes by.
    """
    records = RecordsSource(records_file, registry_for(settings), image_column=image_column, id_column=id_column,
                            origin=source, shard=shard)
    return run_source(settings, records, **options)


def run_prefix_ingest(settings: Settings, prefix_url: str, *, shard: Shard = WHOLE, **options) -> IngestSummary:
    """Index the images under an object-storage prefix (s3://bucket/prefix/) the way a folder is indexed."""
    return run_source(settings, PrefixSource(settings, prefix_url, shard=shard), **options)


def plan_prune(settings: Settings, *, folders: Iterable[str | Path] = (), records_file: str | Path | None = None,
               source: str | None = None, image_column: str = "image", id_column: str = "id",
               prefix_url: str | None = None, es: Elasticsearch | None = None) -> list[PruneChange]:
    """`--prune --dry-run`: read the source (walk the folders, read the records, list the prefix; no image is
    read) and list what a prune would change. Nothing is indexed, nothing removed."""
    from es_search.client import build_client, check_cluster

    es = es or build_client(settings)
    check_cluster(es, settings)
    if records_file is not None:
        what: Source = RecordsSource(records_file, registry_for(settings), image_column=image_column,
                                     id_column=id_column, origin=source)
    elif prefix_url is not None:
        what = PrefixSource(settings, prefix_url)
    else:
        what = FolderSource([str(f) for f in folders], exclude=[str(settings.thumbnails_dir)])
    seen = SeenKeys(settings.data_dir)
    try:
        for item in what.items():
            if getattr(item, "record_id", None):
                seen.add("id", item.record_id)
            if getattr(item, "location", None):
                seen.add("loc", item.location)
        refusal = what.prune_refusal()
        if refusal:
            raise ConfigError(f"cannot plan a prune: {refusal.removeprefix('not pruned: ')}")
        if not indices_behind(es, settings.index_alias):
            return []
        es.indices.refresh(index=settings.index_alias)  # the scan must see the last run's writes
        return [change for scope in what.prune_scopes() for change in find_stale(es, settings.index_alias, scope, seen)]
    finally:
        seen.close()


def plan_prefix_prune(settings: Settings, prefix_url: str, es: Elasticsearch | None = None) -> list[PruneChange]:
    """`--prune --dry-run` for an object-storage prefix."""
    return plan_prune(settings, prefix_url=prefix_url, es=es)


class WatchlistTally:
    """Images that matched a watchlist, by list and policy (told from the model's and the feeder's threads)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, watchlist: str, policy: str) -> None:
        with self._lock:
            self._counts[f"{watchlist} {policy}"] += 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


def _refresh_for_reuse(es: Elasticsearch, alias: str) -> None:
    """Contents indexed under another id are found by a search on their hash, which sees only refreshed
    writes: refresh once, so a run started right after another still reuses what that one encoded. Only
    reuse depends on it, so credentials without the privilege (`maintenance`) go on without."""
    try:
        es.indices.refresh(index=alias)
    except AuthorizationException:
        pass


def _roots(settings: Settings, source: Source) -> list[str]:
    return list(dict.fromkeys(os.path.abspath(root) for root in (*source.roots, *settings.image_roots)))


def _near_duplicates(es: Elasticsearch, settings: Settings, summary: IngestSummary, since: str, mode: str,
                     log: Callable[[str], None] | None) -> None:
    """The near-duplicate check of the run's new images. Its failure loses nothing indexed: it is said, and
    `imgsearch duplicates` picks the images up later (they are past its saved mark)."""
    try:
        outcome = check_new_images(es, settings, since, mode, log)
    except (ApiError, TransportError, RuntimeError) as exc:
        summary.error = summary.error or f"near-duplicate check failed ({exc}); run `imgsearch duplicates` later"
        return
    summary.near_duplicates, summary.skipped_near_duplicates = outcome.found, outcome.skipped


def _people(es: Elasticsearch, settings: Settings, summary: IngestSummary, since: str) -> None:
    """Group the run's faces into people, and count them in the summary. Its failure loses nothing: the
    faces stay without a person until the next run or `imgsearch people group`."""
    from es_search.faces.store import PeopleStore, count_faces

    try:
        store = PeopleStore(es, settings.index_alias, settings.face_match_distance)
        grouped = store.group_pending()
        summary.faces, summary.faces_not_compared = count_faces(es, settings.index_alias, since)
        summary.new_people = grouped.new_people
    except (ApiError, TransportError, RuntimeError) as exc:
        summary.error = summary.error or f"grouping faces failed ({exc}); run `imgsearch people group` later"


def _prune(es: Elasticsearch, alias: str, source: Source, seen: SeenKeys, summary: IngestSummary) -> None:
    es.indices.refresh(index=alias)  # the scan must see what this run wrote
    summary.pruned = summary.pruned_paths = 0
    for scope in source.prune_scopes():
        deleted, paths = apply_changes(es, alias, find_stale(es, alias, scope, seen))
        summary.pruned += deleted
        summary.pruned_paths += paths


def _with_frames(items, settings: Settings, bar, log: Callable[[str], None] | None):
    """The items with every video replaced by its frames; a long video says how far it is on the progress
    bar (or the log), and a bar's total (files) stops being one once a video is met."""
    from ingest.sources.video import with_video_frames

    def progress(path: str, frames: int, seconds: float, duration: float | None) -> None:
        of = f" of {duration:.0f}" if duration else ""
        text = f"{os.path.basename(path)}: {frames} frames, {seconds:.0f}{of} s"
        if bar is not None:
            bar.total = None
            bar.set_postfix_str(text)
        elif log is not None:
            log(text)

    return with_video_frames(items, interval=settings.video_interval, scene_threshold=settings.video_scene_threshold,
                             max_pixels=settings.max_image_pixels, progress=progress)


def _progress_bar(source: Source):
    from tqdm import tqdm

    # The rate (images/s) shows from the start; a folder's total arrives when a counting walk ends.
    bar = tqdm(total=source.total(), unit="img", desc="ingest", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)
    count_in_background = getattr(source, "count_in_background", None)
    if count_in_background is not None:
        def done(total: int) -> None:
            bar.total = total
            bar.refresh()

        count_in_background(done)
    return bar


__all__ = ["plan_prefix_prune", "plan_prune", "prepare_run", "run_ingest", "run_prefix_ingest", "run_records_ingest",
           "run_source"]
