"""One ingest run with everything it needs set up: cluster check, models, index, local state, report, progress.

This is the I/O edge the CLI and the demo call; the stages and their wiring live in the other modules.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from elasticsearch import ApiError, Elasticsearch, TransportError

from es_search.config import Settings
from ingest.discover import OnError, discover_all
from ingest.enrich import CategoryScorer
from ingest.index_writer import iso_utc
from ingest.near_duplicates import check_new_images
from ingest.pipeline import IngestOptions, IngestRun
from ingest.report import FailureReport, IngestSummary, report_path
from ingest.state import IndexedFiles, state_path


def run_ingest(settings: Settings, sources: Iterable[str | Path] = (), list_files: Iterable[str | Path] = (), *,
               es: Elasticsearch | None = None, image_encoder=None, text_encoder=None, progress: bool = False,
               recheck: bool = False, metadata_for: Callable[[str], dict | None] | None = None,
               log: Callable[[str], None] | None = None, on_near_duplicate: str = "index") -> IngestSummary:
    """Index every image under `sources` and in `list_files` into `settings.index_alias`.

    Encoders default to the configured ones (never swapped for others); the index is created when missing.
    Raises ClusterUnavailable before starting when Elasticsearch cannot be reached, EncoderUnavailable when
    a model cannot be loaded, ValueError when the index holds vectors of another size.
    Once every document is acknowledged, the new images are checked for near-duplicates (`on_near_duplicate`:
    index, skip or report; see ingest/near_duplicates.py).
    """
    from es_search.client import build_client, check_cluster
    from es_search.index import ensure_index

    sources, list_files = [str(s) for s in sources], [str(f) for f in list_files]
    es = es or build_client(settings)
    check_cluster(es, settings)
    if image_encoder is None or text_encoder is None:
        from es_search.encoders import build_image_encoder, build_text_encoder

        image_encoder = image_encoder or build_image_encoder(settings)
        text_encoder = text_encoder or build_text_encoder(settings, es)
    index_name = ensure_index(es, settings, image_encoder.dims)
    scorer = CategoryScorer.from_text_encoder(text_encoder, settings.categories)
    if log is not None:
        log(f"ingest into {settings.index_alias} ({index_name}) at {settings.node_url}; image model "
            f"{image_encoder.name} ({settings.image_backend}, {image_encoder.dims}-d), batch {settings.batch_size}, "
            f"{settings.decode_workers} decode threads")

    report = FailureReport(report_path(settings.reports_dir))
    state = IndexedFiles(state_path(settings.data_dir), index_name)
    bar = _progress_bar() if progress else None
    run = IngestRun(es, settings, image_encoder, report=report, state=state, scorer=scorer,
                    options=IngestOptions.from_settings(settings, recheck=recheck), progress=bar,
                    metadata_for=metadata_for, image_roots=sources)
    exclude = [settings.thumbnails_dir]  # our own thumbnails are images too; never index them
    if bar is not None:
        _count_in_background(lambda on_error: discover_all(sources, list_files, on_error=on_error, exclude=exclude),
                             bar)
    summary = None
    started = iso_utc()
    try:
        summary = run.run(discover_all(sources, list_files, on_error=_folder_failure(run), exclude=exclude))
    finally:
        if bar is not None:
            bar.close()
        state.close()
        if summary is not None and not summary.stopped and summary.indexed:
            _near_duplicates(es, settings, summary, started, on_near_duplicate, log)
        report.close(summary)
    return summary


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


def _folder_failure(run: IngestRun):
    def on_error(path: str, reason: str, message: str) -> None:
        run.fail_file(path, reason, message)
    return on_error


def _progress_bar():
    from tqdm import tqdm

    # Total unknown until the counting walk ends; the rate (images/s) shows from the start.
    return tqdm(total=None, unit="img", desc="ingest", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)


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
