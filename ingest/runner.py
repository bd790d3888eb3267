"""One ingest run with everything it needs set up: cluster check, models, index, local state, report, progress.

This is the I/O edge the CLI and the demo call; the stages and their wiring live in the other modules.
Three kinds of source: folders (and lists of files), a records file, an object-storage prefix. Each run
may end with a prune of its source (`prune=True`), only when the run completed.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from elasticsearch import ApiError, AuthorizationException, Elasticsearch, TransportError

from es_search.config import Settings
from es_search.elastic_errors import missing_index_message, translate
from es_search.errors import ConfigError
from es_search.fields import registry_for
from es_search.index import indices_behind
from es_search.paths import relative_path
from es_search.remote import RemoteReader, list_s3
from ingest.discover import OnError, discover_all, is_image_name
from ingest.enrich import CategoryScorer
from ingest.index_writer import iso_utc
from ingest.near_duplicates import check_new_images
from ingest.pipeline import IngestOptions, IngestRun
from ingest.prune import PruneChange, PruneScope, apply_changes, find_stale
from ingest.records import Record, RecordColumns, check_records_file, read_records, record_digest
from ingest.records_run import RecordsRun
from ingest.report import FailureReport, IngestSummary, report_path
from ingest.seen import SeenKeys
from ingest.shard import WHOLE, Shard, in_shard, record_key, select
from ingest.state import IndexedFiles, state_path

# Walk failures after which a folder's prune would mistake unread files for deleted ones.
WALK_GAPS = ("unreadable", "not_found")


@dataclass
class Prepared:
    """What every kind of run shares once the cluster, models and index are ready."""

    es: Elasticsearch
    image_encoder: object
    scorer: CategoryScorer
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
    scorer = CategoryScorer.from_text_encoder(text_encoder, settings.categories)
    if log is not None:
        log(f"ingest into {settings.index_alias} ({index_name}) at {settings.node_url}; image model "
            f"{image_encoder.name} ({settings.image_backend}, {image_encoder.dims}-d), batch {settings.batch_size}, "
            f"{settings.decode_workers} decode threads")
    return Prepared(es, image_encoder, scorer, index_name)


def run_ingest(settings: Settings, sources: Iterable[str | Path] = (), list_files: Iterable[str | Path] = (), *,
               es: Elasticsearch | None = None, image_encoder=None, text_encoder=None, progress: bool = False,
               recheck: bool = False, metadata_for: Callable[[str], dict | None] | None = None,
               log: Callable[[str], None] | None = None, prune: bool = False, shard: Shard = WHOLE,
               on_near_duplicate: str = "index") -> IngestSummary:
    """Index every image under `sources` and in `list_files` into `settings.index_alias`.

    With `shard` I/N, only the files whose path (relative to the deepest of `sources` holding it) hashes
    to shard I, and only their failures: N such runs, on any machines, cover the input exactly once.

    Encoders default to the configured ones (never swapped for others); the index is created when missing.
    Raises ClusterUnavailable before starting when Elasticsearch cannot be reached, EncoderUnavailable when
    a model cannot be loaded, ValueError when the index holds vectors of another size.
    `prune`: afterwards, take off the index the paths under `sources` that the run did not meet.
    Once every document is acknowledged, the new images are checked for near-duplicates (`on_near_duplicate`:
    index, skip or report; see ingest/near_duplicates.py).
    """
    sources, list_files = [str(s) for s in sources], [str(f) for f in list_files]
    ready = prepare_run(settings, es, image_encoder, text_encoder, log)
    report = FailureReport(report_path(settings.reports_dir))
    state = IndexedFiles(state_path(settings.data_dir), ready.index_name)
    seen = SeenKeys(settings.data_dir) if prune else None
    bar = _progress_bar() if progress else None
    run = IngestRun(ready.es, settings, ready.image_encoder, report=report, state=state, scorer=ready.scorer,
                    options=IngestOptions.from_settings(settings, recheck=recheck), progress=bar,
                    metadata_for=metadata_for, image_roots=sources)
    exclude = [settings.thumbnails_dir]  # our own thumbnails are images too; never index them
    roots = [os.path.abspath(source) for source in sources]

    def walk(on_error: OnError) -> Iterable[str]:
        def shard_error(path: str, reason: str, message: str) -> None:
            if in_shard(relative_path(path, roots), shard):  # each problem is reported by one shard only
                on_error(path, reason, message)

        found = discover_all(sources, list_files, on_error=shard_error, exclude=exclude)
        return select(found, shard, key=lambda path: relative_path(path, roots))

    if bar is not None:
        _count_in_background(walk, bar)
    gaps: list[str] = []

    def on_error(path: str, reason: str, message: str) -> None:
        if reason in WALK_GAPS:
            gaps.append(path)
        run.fail_file(path, reason, message)

    summary = None
    started = iso_utc()
    try:
        paths = walk(on_error)
        summary = run.run(_noting(paths, seen) if seen else paths)
        if seen is not None and summary.stopped is None:
            if gaps:
                summary.error = f"not pruned: {len(gaps)} folders or files could not be read (see the report)"
            else:
                _prune(ready.es, settings.index_alias, [PruneScope.folder(s) for s in sources], seen, summary)
    finally:
        if bar is not None:
            bar.close()
        state.close()
        if summary is not None and not summary.stopped and summary.indexed:
            _near_duplicates(ready.es, settings, summary, started, on_near_duplicate, log)
        report.close(summary)
        if seen is not None:
            seen.close()
    return summary


def run_records_ingest(settings: Settings, records_file: str | Path, *, source: str | None = None,
                       image_column: str = "image", id_column: str = "id", es: Elasticsearch | None = None,
                       image_encoder=None, text_encoder=None, progress: bool = False, recheck: bool = False,
                       prune: bool = False, log: Callable[[str], None] | None = None,
                       shard: Shard = WHOLE) -> IngestSummary:
    """Index the rows of a records file (CSV or JSON Lines); see ingest/records.py for what a row may hold.

    The file is checked as a whole first (RecordsFileError: nothing is indexed). `source` names the file in
    the documents' `sources` (default: its absolute path), which is what `prune` goes by. With `shard` I/N,
    only the rows whose id (else image location) hashes to shard I (ingest/shard.py `record_key`).
    """
    columns = RecordColumns.from_registry(registry_for(settings), image=image_column, id_column=id_column)
    checked = check_records_file(Path(records_file), columns)
    source = source or str(Path(records_file).resolve())
    records = select(read_records(checked, columns), shard, key=record_key)
    return _run_records(settings, records, source, PruneScope("records", source),
                        total=checked.rows if shard == WHOLE else None, es=es, image_encoder=image_encoder, text_encoder=text_encoder,
                        progress=progress, recheck=recheck, prune=prune, log=log)


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



def _run_records(settings: Settings, records: Iterable, source: str, scope: PruneScope, *,
                 total: int | None, es, image_encoder, text_encoder, progress: bool, recheck: bool, prune: bool,
                 log) -> IngestSummary:
    ready = prepare_run(settings, es, image_encoder, text_encoder, log)
    # Contents indexed under another id are found by a search on their hash, which sees only refreshed
    # writes: refresh once, so a run started right after another still reuses what that one encoded.
    ready.es.indices.refresh(index=settings.index_alias)
    report = FailureReport(report_path(settings.reports_dir))
    state = IndexedFiles(state_path(settings.data_dir), ready.index_name)
    seen = SeenKeys(settings.data_dir)  # always: it also finds ids named twice
    bar = _progress_bar(total) if progress else None
    reader = RemoteReader(settings)  # one for the run: warm HTTP connections, one S3 client
    run = RecordsRun(ready.es, settings, ready.image_encoder, source=source, seen=seen, read_remote=reader.read, report=report, state=state,
                     scorer=ready.scorer, options=IngestOptions.from_settings(settings, recheck=recheck),
                     progress=bar)
    summary = None
    try:
        summary = run.run(records)
        if prune and summary.stopped is None:
            _prune(ready.es, settings.index_alias, [scope], seen, summary)
    finally:
        if bar is not None:
            bar.close()
        state.close()
        report.close(summary)
        seen.close()
        reader.close()
    return summary


def run_prefix_ingest(settings: Settings, prefix_url: str, *, es: Elasticsearch | None = None, image_encoder=None,
                      text_encoder=None, progress: bool = False, recheck: bool = False, prune: bool = False,
                      log: Callable[[str], None] | None = None, shard: Shard = WHOLE) -> IngestSummary:
    """Index the images under an object-storage prefix (s3://bucket/prefix/) the way a folder is indexed: the
    content hash is the id, a copy under another key adds its location. The listing's size and modification
    time let a rerun skip unchanged objects without downloading them. `shard`: by each object's location."""
    listing = listed_records(settings, prefix_url)
    first = next(listing, None)  # a bucket that cannot be listed stops the command here (SourceUnavailable)
    records = select(itertools.chain([first] if first else [], listing), shard, key=record_key)
    return _run_records(settings, records, prefix_url, PruneScope("location", prefix_url), total=None, es=es,
                        image_encoder=image_encoder, text_encoder=text_encoder, progress=progress, recheck=recheck,
                        prune=prune, log=log)


def listed_records(settings: Settings, prefix_url: str) -> Iterator[Record]:
    """The image objects under a prefix as records without ids or fields, in listing order."""
    line = 0
    for listed in list_s3(prefix_url, settings):
        if not is_image_name(listed.location):
            continue
        line += 1
        yield Record(line=line, location=listed.location, record_id=None, fields={},
                     digest=record_digest(listed.location, {}), size=listed.size,
                     modified_ns=int(listed.last_modified.timestamp() * 1e9))


def plan_prefix_prune(settings: Settings, prefix_url: str, es: Elasticsearch | None = None) -> list[PruneChange]:
    """`--prune --dry-run` for an object-storage prefix: list it, and say what a prune would change."""
    from es_search.client import build_client, check_cluster

    es = es or build_client(settings)
    check_cluster(es, settings)
    seen = SeenKeys(settings.data_dir)
    try:
        seen.add_many("loc", (record.location for record in listed_records(settings, prefix_url)))
        if not indices_behind(es, settings.index_alias):
            return []
        es.indices.refresh(index=settings.index_alias)
        return list(find_stale(es, settings.index_alias, PruneScope("location", prefix_url), seen))
    finally:
        seen.close()


def plan_prune(settings: Settings, *, folders: Iterable[str | Path] = (), records_file: str | Path | None = None,
               source: str | None = None, image_column: str = "image", id_column: str = "id",
               es: Elasticsearch | None = None) -> list[PruneChange]:
    """`--prune --dry-run`: read the source (walk the folders, read the records; no image is read) and list
    what a prune would change. Nothing is indexed, nothing removed."""
    from es_search.client import build_client, check_cluster

    es = es or build_client(settings)
    check_cluster(es, settings)
    seen = SeenKeys(settings.data_dir)
    try:
        if records_file is not None:
            columns = RecordColumns.from_registry(registry_for(settings), image=image_column, id_column=id_column)
            checked = check_records_file(Path(records_file), columns)
            scopes = [PruneScope("records", source or str(Path(records_file).resolve()))]
            for item in read_records(checked, columns):
                if item.record_id:
                    seen.add("id", item.record_id)
                if isinstance(item, Record):
                    seen.add("loc", item.location)
        else:
            gaps: list[str] = []
            seen.add_many("loc", discover_all([str(f) for f in folders], on_error=lambda path, reason, _message:
                                              gaps.append(path) if reason in WALK_GAPS else None,
                                              exclude=[settings.thumbnails_dir]))
            if gaps:
                raise ConfigError(f"cannot plan a prune: {len(gaps)} folders or files could not be read, "
                                  f"e.g. {gaps[0]}")
            scopes = [PruneScope.folder(str(f)) for f in folders]
        if not indices_behind(es, settings.index_alias):
            return []
        es.indices.refresh(index=settings.index_alias)  # the scan must see the last run's writes
        return [change for scope in scopes for change in find_stale(es, settings.index_alias, scope, seen)]
    finally:
        seen.close()


def _prune(es: Elasticsearch, alias: str, scopes: list[PruneScope], seen: SeenKeys, summary: IngestSummary) -> None:
    es.indices.refresh(index=alias)  # the scan must see what this run wrote
    summary.pruned = summary.pruned_paths = 0
    for scope in scopes:
        deleted, paths = apply_changes(es, alias, find_stale(es, alias, scope, seen))
        summary.pruned += deleted
        summary.pruned_paths += paths


def _noting(paths: Iterable[str], seen: SeenKeys) -> Iterator[str]:
    for path in paths:
        seen.add("loc", path)
        yield path


def _progress_bar(total: int | None = None):
    from tqdm import tqdm

    # Total unknown until the counting walk ends; the rate (images/s) shows from the start.
    return tqdm(total=total, unit="img", desc="ingest", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)


def _count_in_background(walk: Callable[[OnError], Iterable[str]], bar) -> None:
    """A second, cheap walk that only counts, so the bar can show a total without a list in memory.

    What the walk reports (unsupported files, unreadable folders) counts too: the real run moves the bar
    for each of those failures as well.
    """
    reported = 0

    def on_error(path: str, reason: str, message: str) -> None:
        nonlocal reported
        reported += 1

    def count() -> None:
        try:
            total = sum(1 for _ in walk(on_error))
        except Exception:  # the count is a nicety; the real walk reports problems
            return
        bar.total = total + reported
        bar.refresh()

    threading.Thread(target=count, name="imgsearch-count", daemon=True).start()
