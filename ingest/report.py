"""What a run tells its user: live counts, a report file listing every failed file, and the closing summary.

Failures stream to a JSON-lines file as they happen, so the report stays complete even if the run is killed
and memory does not grow with the number of failures.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

OUTCOMES = ("indexed", "updated", "already_present", "failed")


@dataclass
class IngestSummary:
    """Counts by outcome. Every file (or record) seen ends in exactly one: indexed (a new document),
    updated (a record's document rewritten: its fields changed, or its image, which was encoded again),
    already_present (its content was indexed before, or is a copy of another file: its path is now recorded
    on that document; for a record, nothing changed), failed (see the report); `unfinished` counts files in
    flight when a run was stopped. `pruned`: documents `--prune` removed (None: no prune ran)."""

    indexed: int = 0
    updated: int = 0
    already_present: int = 0
    failed: int = 0
    unfinished: int = 0
    skipped_unchanged: int = 0  # part of already_present: known from the local state, not even read
    failure_reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    images_per_second: float = 0.0
    stopped: str | None = None  # None for a complete run, else "interrupted" or "cluster" or "error"
    error: str | None = None
    report: str | None = None
    pruned: int | None = None
    pruned_paths: int = 0  # paths taken off documents that keep others
    noted: int = 0  # images indexed with a note in the report (an enricher that failed on them)
    near_duplicates: int = 0  # new images with a near-duplicate (ingest/near_duplicates.py)
    skipped_near_duplicates: int = 0  # of those, removed again (--on-near-duplicate skip)
    faces: int | None = None  # faces found in the run's new images (None: faces off)
    faces_not_compared: int = 0  # of those, too small or blurred to describe: kept as regions, never matched
    new_people: int = 0  # people the run's faces started (the others joined people known before)
    # Images that matched a watchlist, by "list policy" (refused ones are also failures: watchlist_match).
    watchlist_matches: dict[str, int] = field(default_factory=dict)

    @property
    def files(self) -> int:
        return self.indexed + self.updated + self.already_present + self.failed

    def to_dict(self) -> dict:
        return {**asdict(self), "files": self.files}


class Tally:
    """Thread-safe outcome counter that also moves a progress bar (anything with `update(n)`)."""

    def __init__(self, progress=None):
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._reasons: Counter[str] = Counter()
        self._progress = progress
        self.started = time.monotonic()

    def add(self, outcome: str, count: int = 1, reason: str | None = None) -> None:
        if outcome not in OUTCOMES and outcome not in ("skipped_unchanged", "noted"):
            raise ValueError(f"unknown outcome {outcome!r}")
        if count <= 0:
            return
        with self._lock:
            self._counts[outcome] += count
            if outcome == "skipped_unchanged":
                self._counts["already_present"] += count
            if reason and outcome == "failed":
                self._reasons[reason] += count
            if self._progress is not None and outcome != "noted":  # a note is no item of its own
                self._progress.update(count)
                self._progress.set_postfix({"new": self._counts["indexed"], "updated": self._counts["updated"],
                                            "present": self._counts["already_present"],
                                            "failed": self._counts["failed"]}, refresh=False)

    def summary(self, unfinished: int = 0, stopped: str | None = None, error: str | None = None,
                report: str | None = None) -> IngestSummary:
        seconds = time.monotonic() - self.started
        with self._lock:
            counts = dict(self._counts)
            reasons = dict(sorted(self._reasons.items()))
        done = sum(counts.get(k, 0) for k in OUTCOMES)
        return IngestSummary(
            indexed=counts.get("indexed", 0), updated=counts.get("updated", 0), already_present=counts.get("already_present", 0),
            failed=counts.get("failed", 0), unfinished=unfinished,
            skipped_unchanged=counts.get("skipped_unchanged", 0), noted=counts.get("noted", 0),
            failure_reasons=reasons,
            seconds=round(seconds, 3), images_per_second=round(done / seconds, 2) if seconds > 0 else 0.0,
            stopped=stopped, error=error, report=report,
        )


class RunSink:
    """What a run tells its user (ingest/writer.py's Sink): the counts, the progress bar and the report."""

    def __init__(self, tally: Tally, report: FailureReport):
        self.tally = tally
        self.report = report

    def present(self, members, unchanged: bool = False) -> None:
        self.tally.add("skipped_unchanged" if unchanged else "already_present", len(members))

    def written(self, members, outcome: str, answer: dict, encoded: bool) -> None:
        self.tally.add(outcome, 1)
        self.tally.add("already_present", len(members) - 1)  # copies of that content met in this run

    def failed(self, item, reason: str, message: str, status: int | None = None, answer: dict | None = None) -> None:
        self.report.add(item.label, reason, message, line=item.line, id=getattr(item, "record_id", None))
        self.tally.add("failed", 1, reason=reason)

    def noted(self, item, reason: str, message: str) -> None:
        self.report.add(item.label, reason, message, line=item.line, id=item.record_id, indexed=True)
        self.tally.add("noted", 1)


def report_path(reports_dir: Path, now: datetime | None = None) -> Path:
    """A new report file name, ordered by time: reports/ingest-20240131-235959-123456.jsonl."""
    now = now or datetime.now(timezone.utc)
    return Path(reports_dir) / f"ingest-{now.strftime('%Y%m%d-%H%M%S-%f')}.jsonl"


class FailureReport:
    """One JSON object per failed file ({path, reason, message}); a final `{"summary": ...}` line closes it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "w", encoding="utf-8")
        self._lock = threading.Lock()

    def add(self, path: str, reason: str, message: str, **extra) -> None:
        """One failure (or, with indexed=True, a note on an image that was indexed); `extra` adds keys (a
        record's `line` and `id`)."""
        entry = {"path": path, "reason": reason, "message": message}
        entry.update({key: value for key, value in extra.items() if value is not None})
        line = json.dumps(entry, ensure_ascii=False)
        with self._lock:
            self._fh.write(line + "\n")
            self._fh.flush()  # a killed run keeps every line written so far

    def close(self, summary: IngestSummary | None = None) -> None:
        with self._lock:
            if summary is not None:
                self._fh.write(json.dumps({"summary": summary.to_dict()}, ensure_ascii=False) + "\n")
            self._fh.close()


def read_report(path: Path) -> tuple[list[dict], dict | None]:
    """(failed files, summary or None) from a report file."""
    failures, summary = [], None
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            if "summary" in record:
                summary = record["summary"]
            else:
                failures.append(record)
    return failures, summary


def format_summary(summary: IngestSummary) -> str:
    """The closing lines a person reads."""
    head = {None: "ingest finished", "interrupted": "ingest INTERRUPTED", "cluster": "ingest STOPPED: Elasticsearch failed",
            "error": "ingest STOPPED by an error"}.get(summary.stopped, "ingest stopped")
    lines = [
        f"{head} in {summary.seconds:.1f} s ({summary.images_per_second:.1f} files/s)",
        f"  indexed (new documents): {summary.indexed}",
        *([f"  updated:                 {summary.updated}"] if summary.updated else []),
        f"  already present:         {summary.already_present}"
        + (f" ({summary.skipped_unchanged} unchanged since the last run, not read)" if summary.skipped_unchanged else ""),
        f"  failed:                  {summary.failed}"
        + (" (" + ", ".join(f"{k} {v}" for k, v in summary.failure_reasons.items()) + ")" if summary.failed else ""),
    ]
    if summary.pruned is not None:
        lines.append(f"  pruned:                  {summary.pruned} documents removed"
                     + (f", {summary.pruned_paths} paths taken off documents" if summary.pruned_paths else ""))
    if summary.near_duplicates:
        lines.append(f"  near-duplicates:         {summary.near_duplicates}"
                     + (f" ({summary.skipped_near_duplicates} skipped)" if summary.skipped_near_duplicates else ""))
    if summary.faces is not None:
        lines.append(f"  faces:                   {summary.faces} ({summary.faces_not_compared} too small or "
                     f"blurred to compare; {summary.new_people} new people)")
    if summary.watchlist_matches:
        lines.append("  watchlist matches:       " + ", ".join(
            f"{key} {count}" for key, count in sorted(summary.watchlist_matches.items())))
    if summary.noted:
        lines.append(f"  indexed with a note:     {summary.noted} (see the report)")
    if summary.unfinished:
        lines.append(f"  unfinished:              {summary.unfinished}")
    if summary.error:
        lines.append(f"  error: {summary.error}")
    if summary.stopped:
        lines.append("  run the same command again to finish: content already indexed is skipped, nothing is indexed twice")
    if summary.report:
        lines.append(f"  report: {summary.report}")
    return "\n".join(lines)
