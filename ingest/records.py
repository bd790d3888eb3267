"""Records stage: a catalogue file (CSV or JSON Lines) to a stream of records whose values have the registry's types.

Flow: `check_records_file` reads the file once before anything is indexed (UTF-8, the header or the keys
in use, the row count), so that a problem of the whole file stops the run up front; `read_records` then
streams it again, one `Record` or `RecordProblem` per row, so memory does not grow with the file.

Which problem belongs to whom:
- the whole run (RecordsFileError, exit code 2, nothing indexed): the file cannot be read, is not UTF-8,
  has no image column, or names a column the field schema does not declare. An undeclared column is a
  schema problem: every row would lose that value, so it is better fixed once than reported a million times;
- one row (RecordProblem, reason `bad_record`, reported and skipped): a value that does not convert to its
  field's type, a row without an image, a line that is not a JSON object, a CSV row with extra cells.

Records may set the fields of the user's schema file (IMGSEARCH_FIELDS) and the descriptive built-in ones,
`title`, `caption` and `tags`; everything the pipeline derives from the pixels or the file (colours, size,
sha256, paths...) is refused as a column, so a catalogue cannot contradict its images.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from es_search.errors import ConfigError, FileFailure
from es_search.fields import FieldRegistry, FieldSpec
from es_search.remote.locations import parse_location

# Built-in fields a record may set; the others are computed by the pipeline.
SETTABLE_BUILTINS = ("title", "caption", "tags")
MAX_ID_BYTES = 512  # Elasticsearch's limit for a document _id
INT_RANGES = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "off"})
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


class RecordsFileError(ConfigError):
    """The records file as a whole cannot be ingested (read, encoding, header, undeclared columns)."""


class RecordProblem(Exception):
    """One row that cannot be ingested; the run reports it (reason `bad_record`) and goes on."""

    reason = "bad_record"

    def __init__(self, line: int, message: str, record_id: str | None = None):
        super().__init__(message)
        self.line = line
        self.message = message
        self.record_id = record_id


@dataclass(frozen=True)
class Record:
    """One row: where its image is, its own id (None: the content hash is the id), and its converted fields.

    `fields` holds every settable column the row has; None for an empty cell, which clears the field. A field
    the row has no column for is left as it is on the document (so a catalogue of prices can be laid over
    documents that already have titles and tags), unless the row's image changed: then its document is
    written anew, from the row and the new image."""

    line: int
    location: str
    record_id: str | None
    fields: Mapping[str, object]
    digest: str = ""  # changes when anything the row sets changes (location or any field)
    size: int | None = None  # known beforehand for listed objects (an S3 listing), else None
    modified_ns: int | None = None


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


# --------------------------------------------------------------------------- converting values (pure)


def convert_value(spec: FieldSpec, raw: object) -> object:
    """`raw` as the value `spec`'s type stores; None for an empty cell; ValueError says what is wrong.

    A JSON list gives many values (each converted); a CSV cell is one value.
    """
    if isinstance(raw, list):
        values = [convert_value(spec, item) for item in raw]
        values = [v for v in values if v is not None]
        return values or None
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    kind = spec.type
    if kind in ("keyword", "text"):
        if isinstance(raw, (dict, bool)):
            raise ValueError(f"expected text, got {json.dumps(raw)}")
        return str(raw).strip() if kind == "keyword" else str(raw)
    if kind in INT_RANGES:
        return _integer(raw, kind)
    if kind in ("float", "double"):
        return _number(raw)
    if kind == "boolean":
        return _boolean(raw)
    if kind == "date":
        return _date(raw)
    raise ValueError(f"a {kind} field cannot be set by a record")


def _integer(raw: object, kind: str) -> int:
    if isinstance(raw, bool):
        raise ValueError(f"expected a whole number, got {json.dumps(raw)}")
    if isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    elif isinstance(raw, int):
        value = raw
    elif isinstance(raw, str):
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"expected a whole number, got {raw!r}") from None
    else:
        raise ValueError(f"expected a whole number, got {raw!r}")
    low, high = INT_RANGES[kind]
    if not low <= value <= high:
        raise ValueError(f"{value} is out of range for a {kind} field")
    return value


def _number(raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ValueError(f"expected a number, got {raw!r}")
    try:
        value = float(raw.strip() if isinstance(raw, str) else raw)
    except ValueError:
        raise ValueError(f"expected a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {raw!r}")
    return value


def _boolean(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _date(raw: object) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"expected an ISO 8601 date (2024-01-31 or 2024-01-31T12:00:00Z), got {raw!r}")
    text = raw.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(f"expected an ISO 8601 date (2024-01-31 or 2024-01-31T12:00:00Z), got {raw!r}") from None


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


def record_from_row(row: Mapping[str, object], line: int, columns: RecordColumns, base_dir: Path) -> Record:
    """One row to a Record; RecordProblem (bad_record) names the first column that does not convert."""
    raw_id = row.get(columns.id)
    record_id = None if raw_id is None or not str(raw_id).strip() else str(raw_id).strip()
    if record_id is not None and (isinstance(raw_id, (dict, list, bool)) or len(record_id.encode()) > MAX_ID_BYTES):
        raise RecordProblem(line, f"column {columns.id!r}: an id is text of at most {MAX_ID_BYTES} bytes", None)
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
        try:
            value = convert_value(spec, raw)
        except ValueError as exc:
            raise RecordProblem(line, f"column {name!r} ({spec.type}): {exc}", record_id) from None
        values[name] = value  # None: the row clears the field (a column it lacks leaves the field alone)
    return Record(line=line, location=location, record_id=record_id, fields=values,
                  digest=record_digest(location, values))


def record_digest(location: str, values: Mapping[str, object]) -> str:
    """A short fingerprint of what a row sets: equal digests mean a re-ingest has nothing to write."""
    text = json.dumps([location, values], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


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


def read_records(checked: RecordsFile, columns: RecordColumns) -> Iterator[Record | RecordProblem]:
    """Every row of a checked file, in order: a Record, or the RecordProblem that row has."""
    base_dir = checked.path.resolve().parent
    for line, row in _rows(checked.path, checked.format):
        if isinstance(row, RecordProblem):
            yield row
            continue
        try:
            yield record_from_row(row, line, columns, base_dir)
        except RecordProblem as problem:
            yield problem


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
