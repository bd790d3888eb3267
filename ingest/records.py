"""Records stage: a catalogue file (CSV or JSON Lines) to a stream of records whose values have the registry's types.

Flow: `check_records_file` reads the file once before anything is indexed (UTF-8, the header or the keys
in use, the row count), so that a problem of the whole file stops the run up front; `read_records` then
streams it again, one `Item` (ingest/items.py) or `ItemProblem` per row, so memory does not grow with the
file. Values are converted by the one converter of every field value (es_search/values.py); ids follow the
one id rule (es_search/ids.py).

Which problem belongs to whom:
- the whole run (RecordsFileError, exit code 2, nothing indexed): the file cannot be read, is not UTF-8,
  has no image column, or names a column the field schema does not declare. An undeclared column is a
  schema problem: every row would lose that value, so it is better fixed once than reported a million times;
- one row (an ItemProblem, reason `bad_record`, reported and skipped): a value that does not convert to its
  field's type, a bad id, a row without an image, a line that is not a JSON object, a CSV row with extra
  cells.

Records may set the fields of the user's schema file (IMGSEARCH_FIELDS) and the descriptive built-in ones,
`title`, `caption` and `tags`; everything the pipeline derives from the pixels or the file (colours, size,
sha256, paths...) is refused as a column, so a catalogue cannot contradict its images.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from es_search.errors import ConfigError, FileFailure
from es_search.fields import FieldRegistry, FieldSpec
from es_search.ids import BadId, check_doc_id
from es_search.remote.locations import parse_location
from es_search.values import ValueProblem, convert_value, stored
from ingest.items import Item, ItemProblem, record_digest

# Built-in fields a record may set; the others are computed by the pipeline.
# ocr_text: a correction of what was read; camera and taken_at: a video's camera and when it began recording
# (ingest/sources/video.py), or when a photo was taken where its file does not say.
# department: a DICOM image's department where its tags lack it (a records file keyed by SOP instance UID).
SETTABLE_BUILTINS = ("title", "caption", "tags", "ocr_text", "camera", "taken_at", "department")
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


class RecordsFileError(ConfigError):
    """The records file as a whole cannot be ingested (read, encoding, header, undeclared columns)."""


class RecordProblem(Exception):
    """One row that cannot be ingested; `read_records` yields it as an ItemProblem (reason `bad_record`)."""

    reason = "bad_record"

    def __init__(self, line: int, message: str, record_id: str | None = None):
        super().__init__(message)
        self.line = line
        self.message = message
        self.record_id = record_id


@dataclass(frozen=True)
class RecordColumns:
    """How the columns of a records file map onto the registry."""

    image: str = "image"
    id: str = "id"
    settable: Mapping[str, FieldSpec] = field(default_factory=dict)

    @classmethod
    def from_registry(cls, registry: FieldRegistry, image: str = "image", id_column: str = "id") -> RecordColumns:
        settable = {spec.name: spec for spec in registry
                    if spec.type != "alias" and (not spec.builtin or spec.name in SETTABLE_BUILTINS)}
        return cls(image=image, id=id_column, settable=settable)

    def undeclared(self, columns: list[str]) -> list[str]:
        return [c for c in columns if c not in (self.image, self.id) and c not in self.settable]


# --------------------------------------------------------------------------- rows to items (pure)


def resolve_location(raw: str, base_dir: Path) -> str:
    """A local path (relative ones from the records file's folder, so a catalogue moves as one), an http(s)
    URL or s3://bucket/key; ValueError for anything else."""
    location = raw.strip()
    try:
        parsed = parse_location(location)
    except FileFailure as failure:
        raise ValueError(failure.message) from None
    if parsed.kind != "local":
        return location
    return os.path.abspath(base_dir / os.path.expanduser(location))


def record_from_row(row: Mapping[str, object], line: int, columns: RecordColumns, base_dir: Path,
                    origin: str = "") -> Item:
    """One row to a record Item of `origin`; RecordProblem (bad_record) names the first column at fault.

    A row sets the fields it has columns for; an empty cell clears its field (a field the row has no
    column for is left as it is on the document, so a catalogue of prices can be laid over documents
    that already have titles and tags, unless the row's image changed: then its document is written anew).
    """
    raw_id = row.get(columns.id)
    record_id = None
    if raw_id is not None and not (isinstance(raw_id, str) and not raw_id.strip()):
        try:
            record_id = check_doc_id(raw_id.strip() if isinstance(raw_id, str) else raw_id)
        except BadId as exc:
            raise RecordProblem(line, f"column {columns.id!r}: {exc}", None) from None
    image = row.get(columns.image)
    if not isinstance(image, str) or not image.strip():
        raise RecordProblem(line, f"column {columns.image!r}: no image given", record_id)
    try:
        location = resolve_location(image, base_dir)
    except ValueError as exc:
        raise RecordProblem(line, f"column {columns.image!r}: {exc}", record_id) from None
    values: dict[str, object] = {}
    for name, raw in row.items():
        spec = columns.settable.get(name)
        if spec is None:
            continue  # the image and id columns (undeclared ones were refused for the whole file)
        if isinstance(raw, str) and spec.type != "text":
            raw = raw.strip()  # a cell's padding is no part of a number, a word or a date
        try:
            values[name] = stored(convert_value(spec, raw))
        except ValueProblem as exc:
            raise RecordProblem(line, f"column {name!r} ({spec.type}): {exc}", record_id) from None
    return Item(location=location, record_id=record_id, fields=values, origin=origin, line=line,
                digest=record_digest(location, values))


# --------------------------------------------------------------------------- reading files (I/O edge)


@dataclass(frozen=True)
class RecordsFile:
    """A checked records file: its format, its columns and how many rows it has."""

    path: Path
    format: str
    columns: list[str]
    rows: int


def records_format(path: Path) -> str:
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise RecordsFileError(f"{path}: a records file ends in .csv, .jsonl or .ndjson")
    return fmt


def check_records_file(path: Path, columns: RecordColumns) -> RecordsFile:
    """Read the whole file once, keeping only its column names and row count; RecordsFileError if it cannot be used."""
    path = Path(path)
    fmt = records_format(path)
    names: dict[str, None] = {}
    rows = 0
    try:
        if fmt == "csv":
            names = dict.fromkeys(_csv_header(path))
        for _line, row in _rows(path, fmt):
            rows += 1
            if fmt == "jsonl" and isinstance(row, dict):
                names.update(dict.fromkeys(row))
    except OSError as exc:
        raise RecordsFileError(f"cannot read the records file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise RecordsFileError(f"the records file {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise RecordsFileError(f"the records file {path} is not valid CSV: {exc}") from None
    found = list(names)
    if rows and columns.image not in found:
        raise RecordsFileError(f"the records file {path} has no {columns.image!r} column naming each image "
                               f"(columns: {', '.join(found) or 'none'}); name another with --image-column")
    undeclared = columns.undeclared(found)
    if undeclared:
        raise RecordsFileError(
            f"the records file {path} has columns the field schema does not declare: {', '.join(undeclared)}. "
            "Declare them in the schema file named by IMGSEARCH_FIELDS, or remove them; built-in fields "
            f"other than {', '.join(SETTABLE_BUILTINS)} are computed from the image and cannot be set.")
    return RecordsFile(path=path, format=fmt, columns=found, rows=rows)


def read_records(checked: RecordsFile, columns: RecordColumns, origin: str | None = None
                 ) -> Iterator[Item | ItemProblem]:
    """Every row of a checked file, in order: an Item, or the ItemProblem that row has. `origin` names the
    file in its documents' `sources` (default: its absolute path)."""
    base_dir = checked.path.resolve().parent
    origin = origin or str(checked.path.resolve())
    for line, row in _rows(checked.path, checked.format):
        try:
            if isinstance(row, RecordProblem):
                raise row
            yield record_from_row(row, line, columns, base_dir, origin)
        except RecordProblem as problem:
            yield ItemProblem(f"{origin}:{problem.line}", problem.reason, problem.message, problem.line,
                              problem.record_id)


def _csv_header(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return next(csv.reader(fh), [])


def _rows(path: Path, fmt: str) -> Iterator[tuple[int, dict | RecordProblem]]:
    """(line number, row) pairs; a row that is not a mapping comes as a RecordProblem."""
    # utf-8-sig: spreadsheet programs often start a CSV with a byte order mark.
    with open(path, encoding="utf-8-sig", newline="" if fmt == "csv" else None) as fh:
        if fmt == "csv":
            reader = csv.DictReader(fh)
            for row in reader:
                line = reader.line_num
                if None in row:
                    yield line, RecordProblem(line, f"{len(row[None])} more cells than the header has columns")
                elif any(v is None for v in row.values()):
                    yield line, RecordProblem(line, "fewer cells than the header has columns")
                else:
                    yield line, row
            return
        for line, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                yield line, RecordProblem(line, f"not valid JSON: {exc.msg}")
                continue
            yield line, row if isinstance(row, dict) else RecordProblem(line, "not a JSON object")
