"""File sources dropped into the landing folder: Segment JSON lines, ESP CSV, lead forms, tickets, NPS, consent.

Every row is validated against its tool's schema (see ``_models``); rows that fail go to the
quarantine frame with the file, line, field, rule and reason, and never stop the good rows. Rows a
steward released (``cdp quality quarantine release``) are read again from their file, with the
steward's fixes applied, and validated again; header changes are reported as schema drift.

Files are decoded strictly (UTF-8, else a confidently detected encoding, else the file is
quarantined), oversized fields and implausible dates are quarantined like any bad row, and a row
repeated within or across files keeps its first copy (``FileSource.dedupe_key``). Which files a
load reads at all is decided by the file manifest (``_manifest``).
"""

import codecs
import csv
import hashlib
import json
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import charset_normalizer
import pandas as pd
from pydantic import BaseModel, ValidationError

from connectors.files import _models as m

_TEXT = "string"
_TS = "datetime64[us]"
_INT = "Int64"
_BOOL = "boolean"
_LINEAGE = {"_source_file": _TEXT, "_source_line": _INT, "_loaded_at": _TS, "_release_action": _TEXT}


@dataclass(frozen=True)
class FileSource:
    """One kind of file in the landing folder and the raw table it lands in.

    Attributes:
        name: Short name used in logs and the CLI.
        schema: Raw schema of the target table.
        table: Raw table name.
        pattern: Glob under the landing folder.
        models: Row model per file-name prefix ("" matches any file).
        key: Raw column identifying a row, copied into quarantine as ``record_key``.
        columns: The raw table's columns and pandas dtypes, in order.
        description: The table's grain, for the asset description.
        dedupe_key: Raw columns that identify one row across files; a later row with the same
            values is a re-delivery (dropped and counted) when it is identical or ``replays_by_key``,
            else a conflicting duplicate (quarantined as ``duplicate_key``). Empty: whole rows.
        replays_by_key: A repeated key is a re-delivery whatever the content (Segment's
            ``messageId`` is the sender's dedupe id).
    """

    name: str
    schema: str
    table: str
    pattern: str
    models: dict[str, type[BaseModel]]
    key: str
    columns: dict[str, str]
    description: str
    dedupe_key: tuple[str, ...] = ()
    replays_by_key: bool = False

    def model_for(self, path: Path) -> type[BaseModel] | None:
        """Return the row model for a file, by the longest matching file-name prefix."""
        matches = [p for p in self.models if path.name.startswith(p)]
        return self.models[max(matches, key=len)] if matches else None


_LEAD_COLUMNS = {
    "lead_id": _TEXT,
    "channel": _TEXT,
    "submitted_at": _TS,
    "first_name": _TEXT,
    "last_name": _TEXT,
    "full_name": _TEXT,
    "email": _TEXT,
    "phone": _TEXT,
    "company": _TEXT,
    "job_title": _TEXT,
    "country": _TEXT,
    "utm_source": _TEXT,
    "utm_medium": _TEXT,
    "utm_campaign": _TEXT,
    "campaign_name": _TEXT,
    "ad_name": _TEXT,
    "page_url": _TEXT,
    "event_name": _TEXT,
    "agent": _TEXT,
    "notes": _TEXT,
    "email_opt_in": _BOOL,
}

SOURCES: tuple[FileSource, ...] = (
    FileSource(
        name="events",
        schema="raw_marketing",
        table="events",
        pattern="events/*.jsonl",
        models={"": m.SegmentMessage},
        key="message_id",
        columns={
            "message_id": _TEXT,
            "type": _TEXT,
            "event_name": _TEXT,
            "page_name": _TEXT,
            "anonymous_id": _TEXT,
            "user_id": _TEXT,
            "occurred_at": _TS,
            "traits_email": _TEXT,
            "traits_first_name": _TEXT,
            "traits_last_name": _TEXT,
            "traits_phone": _TEXT,
            "traits_company": _TEXT,
            "traits_title": _TEXT,
            "properties": _TEXT,
            "context_ip": _TEXT,
            "context_user_agent": _TEXT,
            "context_locale": _TEXT,
            "utm_source": _TEXT,
            "utm_medium": _TEXT,
            "utm_campaign": _TEXT,
            "utm_term": _TEXT,
            "utm_content": _TEXT,
            "page_url": _TEXT,
            "page_path": _TEXT,
            "page_title": _TEXT,
            "page_referrer": _TEXT,
        },
        description="One row per Segment-spec message (identify, track, page) from the landing folder.",
        dedupe_key=("message_id",),
        replays_by_key=True,
    ),
    FileSource(
        name="email_activity",
        schema="raw_marketing",
        table="email_activity",
        pattern="email/*.csv",
        models={"": m.EmailActivity},
        key="email",
        columns={
            "email": _TEXT,
            "campaign_id": _TEXT,
            "campaign_name": _TEXT,
            "event": _TEXT,
            "occurred_at": _TS,
            "url": _TEXT,
            "bounce_type": _TEXT,
        },
        description="One row per email event (sent, open, click, unsubscribe, bounce) in the ESP export.",
    ),
    FileSource(
        name="lead_forms",
        schema="raw_marketing",
        table="lead_forms",
        pattern="leads/*.csv",
        models={
            "web_form": m.WebFormLead,
            "video_ad_form": m.VideoAdLead,
            "hotline": m.HotlineLead,
            "tradeshow_badges": m.TradeshowBadgeLead,
        },
        key="lead_id",
        columns=_LEAD_COLUMNS,
        description="One row per lead-form submission from any channel (web, video ad, hotline, trade show).",
        dedupe_key=("lead_id",),
    ),
    FileSource(
        name="tickets",
        schema="raw_service",
        table="tickets",
        pattern="service/tickets*.csv",
        models={"": m.Ticket},
        key="ticket_id",
        columns={
            "ticket_id": _TEXT,
            "created_at": _TS,
            "solved_at": _TS,
            "requester_name": _TEXT,
            "requester_email": _TEXT,
            "requester_phone": _TEXT,
            "subject": _TEXT,
            "status": _TEXT,
            "priority": _TEXT,
            "channel": _TEXT,
            "csat_score": _INT,
            "is_escalated": _BOOL,
        },
        description="One row per support ticket in the help-desk export.",
        dedupe_key=("ticket_id",),
    ),
    FileSource(
        name="nps_responses",
        schema="raw_service",
        table="nps_responses",
        pattern="service/nps*.csv",
        models={"": m.NpsResponse},
        key="response_id",
        columns={
            "response_id": _TEXT,
            "responded_at": _TS,
            "email": _TEXT,
            "score": _INT,
            "comment": _TEXT,
            "survey_name": _TEXT,
        },
        description="One row per NPS survey response (score 0-10).",
        dedupe_key=("response_id",),
    ),
    FileSource(
        name="consent_log",
        schema="raw_consent",
        table="consent_log",
        pattern="consent/*.csv",
        models={"": m.ConsentEvent},
        key="consent_id",
        columns={
            "consent_id": _TEXT,
            "subject_email": _TEXT,
            "subject_phone": _TEXT,
            "purpose": _TEXT,
            "status": _TEXT,
            "recorded_at": _TS,
            "source": _TEXT,
        },
        description="One row per consent grant or withdrawal (subject, purpose, status, time, source).",
        dedupe_key=("consent_id",),
    ),
)


@dataclass(frozen=True)
class Release:
    """A steward's decision on one quarantined row, applied when its file is read again.

    Attributes:
        row_hash: Fingerprint of the row as quarantined; a changed row is no longer released.
        action: ``fix`` (set fields, then validate as usual) or ``accept`` (load despite the row rules).
        fixes: Field (CSV column, or dotted JSON path) to new value.
    """

    row_hash: str
    action: str
    fixes: dict[str, str] = field(default_factory=dict)


@dataclass
class LoadResult:
    """What reading one file source produced.

    Attributes:
        rows: Valid rows in the raw table's layout, with lineage columns (``_release_action`` is
            set on rows a steward released).
        rejects: Quarantined rows with file, line, field, rule, reason and row fingerprint.
        files: The files read, relative to the landing folder.
        unexpected_columns: Columns found in a file's header that its schema does not know, per
            file (schema drift: they are ignored, never fatal).
        drift: One dict per file and changed column: ``source_file, column, change, detail`` with
            change ``new`` or ``missing``.
        releases_applied: How many released rows were read again this run.
        file_stats: One dict per file: ``source_file, encoding, data_rows, rows_loaded,
            rows_quarantined, duplicates_dropped, is_empty`` (``encoding`` is None for a file not
            decoded; ``is_empty``: read, but no data row).
    """

    rows: pd.DataFrame
    rejects: pd.DataFrame
    files: list[str] = field(default_factory=list)
    unexpected_columns: dict[str, list[str]] = field(default_factory=dict)
    drift: list[dict[str, str]] = field(default_factory=list)
    releases_applied: int = 0
    file_stats: list[dict[str, Any]] = field(default_factory=list)

    @property
    def duplicates_dropped(self) -> int:
        """Re-delivered rows dropped in all files (identical repeats, or repeated Segment messageIds)."""
        return sum(stat["duplicates_dropped"] for stat in self.file_stats)

    @property
    def empty_files(self) -> list[str]:
        """Files that hold no data row (empty, or a header only)."""
        return [stat["source_file"] for stat in self.file_stats if stat["is_empty"]]


@dataclass(frozen=True)
class IngestLimits:
    """Plausibility limits applied to every file row.

    Attributes:
        earliest: Earliest plausible date and time (naive UTC) in any date field.
        latest: Latest plausible date and time (naive UTC): the as-of date plus the allowed lead.
        max_field_bytes: Largest field (CSV) or line (JSON lines) in UTF-8 bytes; larger rows are
            quarantined as ``field_too_large``.
    """

    earliest: datetime
    latest: datetime
    max_field_bytes: int = 131_072

    @classmethod
    def around(
        cls,
        as_of: date,
        earliest: date = date(2000, 1, 1),
        future_days: int = 1,
        max_field_bytes: int = 131_072,
    ) -> "IngestLimits":
        """Limits for a run as of a date.

        Args:
            as_of: The run's as-of date.
            earliest: Earliest plausible date.
            future_days: Days after the as-of date a date may still fall (clock skew, time zones).
            max_field_bytes: Largest field or JSON line in bytes.

        Returns:
            The limits.
        """
        latest = datetime.combine(as_of + timedelta(days=future_days + 1), time()) - timedelta(microseconds=1)
        return cls(datetime.combine(earliest, time()), latest, max_field_bytes)


def row_hash(raw: str) -> str:
    """Fingerprint a row's text (first 16 hex digits of its SHA-256), to tie a release to it.

    Args:
        raw: The row as read (a JSON line, or a CSV row rendered as JSON).

    Returns:
        The fingerprint.
    """
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def rules_fingerprint() -> str:
    """Fingerprint the row rules' code (this package's modules): rows loaded by other rules are reloaded.

    Returns:
        SHA-256 of the modules' source.
    """
    digest = hashlib.sha256()
    for module in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(module.read_bytes())
    return digest.hexdigest()


def source(name: str) -> FileSource:
    """Return the file source called ``name``.

    Args:
        name: One of the ``SOURCES`` names.

    Returns:
        The source definition.
    """
    for candidate in SOURCES:
        if candidate.name == name:
            return candidate
    known = ", ".join(s.name for s in SOURCES)
    raise KeyError(f"unknown file source '{name}'; known sources: {known}")


def source_for_table(schema: str, table: str) -> FileSource:
    """Return the file source that loads ``schema.table``.

    Args:
        schema: Raw schema.
        table: Raw table.

    Returns:
        The source definition.
    """
    for candidate in SOURCES:
        if (candidate.schema, candidate.table) == (schema, table):
            return candidate
    raise KeyError(f"no file source loads {schema}.{table}")


def known_fields(src: FileSource) -> set[str]:
    """Return the fields a steward may fix in a source's rows: CSV header names or top-level JSON keys.

    Args:
        src: The file source.

    Returns:
        Every field any of the source's row models reads.
    """
    return set().union(*(_expected_headers(model)[1] for model in src.models.values()))


@dataclass(frozen=True)
class _Problem:
    rule: str
    field: str
    reason: str


# The csv module's default field limit (128 KiB) raises mid-file; rows are measured against
# IngestLimits.max_field_bytes instead, so one oversized row is quarantined and the file goes on.
csv.field_size_limit(2**31 - 1)


def _oversized(value: str, limit: int) -> int | None:
    # A character is at most four UTF-8 bytes: only long values need encoding to be measured.
    if len(value) * 4 <= limit:
        return None
    size = len(value.encode("utf-8"))
    return size if size > limit else None


def _records(
    path: Path, encoding: str, max_field_bytes: int
) -> Iterator[tuple[int, dict[str, Any] | None, _Problem | None, str]]:
    """Yield (line, record or None, problem or None, raw text) for each data line of a file.

    Decodes strictly: a byte the encoding cannot read raises ``UnicodeDecodeError``.
    """
    if path.suffix == ".jsonl":
        with path.open(encoding=encoding, errors="strict") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                size = _oversized(line, max_field_bytes)
                if size is not None:
                    reason = f"line is {size:,} bytes, over the limit of {max_field_bytes:,} (CDP_INGEST_MAX_FIELD_BYTES)"
                    yield number, None, _Problem("field_too_large", "(row)", reason), line.strip()
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    reason = f"invalid JSON: {exc.msg} at column {exc.colno}"
                    yield number, None, _Problem("unparseable", "(row)", reason), line.strip()
                    continue
                if not isinstance(record, dict):
                    problem = _Problem("unparseable", "(row)", "a line must hold one JSON object")
                    yield number, None, problem, line.strip()
                    continue
                yield number, record, None, line.strip()
    else:
        with path.open(encoding=encoding, errors="strict", newline="") as handle:
            reader = csv.DictReader(handle)
            for record in reader:
                raw = json.dumps(record, ensure_ascii=False, default=str)
                if None in record:
                    problem = _Problem("unparseable", "(row)", "more values than header columns")
                    yield reader.line_num, None, problem, raw
                    continue
                large = [
                    (column, size)
                    for column, value in record.items()
                    if isinstance(value, str) and (size := _oversized(value, max_field_bytes)) is not None
                ]
                if large:
                    column, size = large[0]
                    reason = f"field is {size:,} bytes, over the limit of {max_field_bytes:,} (CDP_INGEST_MAX_FIELD_BYTES)"
                    yield reader.line_num, None, _Problem("field_too_large", column, reason), raw
                    continue
                yield reader.line_num, record, None, raw


def _header(path: Path, encoding: str) -> list[str]:
    if path.suffix == ".jsonl":
        return []
    with path.open(encoding=encoding, errors="strict", newline="") as handle:
        return next(csv.reader(handle), [])


def _detect_encoding(path: Path) -> str | None:
    """The encoding a file that is not UTF-8 is written in, when it can be told with confidence."""
    best = charset_normalizer.from_path(path).best()
    # chaos is the share of the decoded text that looks like mojibake; above a few percent the
    # guess is no better than replacing characters.
    if best is None or best.chaos > 0.1:
        return None
    return best.encoding


def _first_bad_byte(path: Path, encoding: str) -> str:
    """Where a file first stops being valid in an encoding: line and byte, for the steward."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset, lines = 0, 1
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                lines += chunk.count(b"\n", 0, error.start)
                return f"line {lines} (byte {offset + error.start:,} of the file)"
            offset += len(chunk)
            lines += chunk.count(b"\n")
    return "its end (a character is cut off)"


def _expected_headers(model: type[BaseModel]) -> tuple[set[str], set[str]]:
    required, known = set(), set()
    for name, info in model.model_fields.items():
        header = info.validation_alias if isinstance(info.validation_alias, str) else name
        known.add(header)
        if info.is_required():
            required.add(header)
    return required, known


def _reject(
    relative: str,
    line: int | None,
    key: Any,
    fld: str,
    rule: str,
    reason: str,
    raw: Any,
    fingerprint: str | None = None,
) -> dict:
    return {
        "source_file": relative,
        "source_line": line,
        "record_key": None if key is None else str(key),
        "field": fld,
        "rule": rule,
        "reason": reason,
        "raw_value": None if raw is None else str(raw)[:2000],
        "row_hash": fingerprint,
    }


def _validation_reject(
    relative: str, line: int, model: type[BaseModel], record: dict, err: ValidationError, raw: str
) -> dict:
    first = err.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(row)"
    value = first.get("input")
    shown = value if loc != "(row)" and not isinstance(value, dict) else raw
    rule, reason = first["type"], first["msg"]
    if rule == "missing" or (value is None and rule.endswith("_type")):
        rule = "missing_key" if loc == model.key_field else "missing_value"
        reason = f"required field '{loc}' is empty or absent"
        shown = None
    key = record.get(model.key_field) or None
    return _reject(relative, line, key, loc, rule, reason, shown, row_hash(raw))


def _apply_fixes(record: dict[str, Any], fixes: dict[str, str]) -> dict[str, Any]:
    fixed = json.loads(json.dumps(record, default=str))
    for path, value in fixes.items():
        *parents, leaf = path.split(".")
        target = fixed
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return fixed


def _header_drift(relative: str, header: list[str], required: set[str], known: set[str]) -> list[dict]:
    drift = [
        {"source_file": relative, "column": c, "change": "new", "detail": "not in the schema; ignored"}
        for c in sorted(set(header) - known)
    ]
    for column in sorted(known - set(header)):
        detail = "required; the file is quarantined" if column in required else "optional; loaded as empty"
        drift.append({"source_file": relative, "column": column, "change": "missing", "detail": detail})
    return drift


@dataclass
class _FileRead:
    """What one file gave: good rows (with ``_row_hash``), rejects, drift and counts."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    drift: list[dict[str, str]] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    applied: int = 0
    data_rows: int = 0
    encoding: str | None = None
    is_empty: bool = False


def _parse_file(
    path: Path,
    relative: str,
    model: type[BaseModel],
    encoding: str,
    releases: dict[tuple[str, int], Release],
    limits: IngestLimits,
    loaded_at: datetime,
) -> _FileRead:
    part = _FileRead(encoding=encoding)
    header = _header(path, encoding)
    required, known = _expected_headers(model)
    if header:
        part.drift.extend(_header_drift(relative, header, required, known))
        missing = sorted(required - set(header))
        if missing:
            part.rejects.append(
                _reject(
                    relative,
                    1,
                    None,
                    ",".join(missing),
                    "missing_columns",
                    f"required column(s) {', '.join(missing)} missing from the header; "
                    "fix the export and drop the file again",
                    ",".join(header),
                )
            )
            return part
        part.unexpected = sorted(set(header) - known)
    json_keys: dict[str, int] = {}
    bounds = (limits.earliest, limits.latest)
    for line, record, problem, raw in _records(path, encoding, limits.max_field_bytes):
        part.data_rows += 1
        if record is None:
            part.rejects.append(
                _reject(relative, line, None, problem.field, problem.rule, problem.reason, raw, row_hash(raw))
            )
            continue
        if not header:
            for key in record.keys() - known:
                json_keys[key] = json_keys.get(key, 0) + 1
        fingerprint = row_hash(raw)
        release = releases.get((relative, line))
        if release is not None and release.row_hash != fingerprint:
            release = None
        if release is not None:
            part.applied += 1
            record = _apply_fixes(record, release.fixes)
        context = {
            m.ACCEPT_CONTEXT: release is not None and release.action == "accept",
            m.DATE_BOUNDS_CONTEXT: bounds,
        }
        try:
            row = model.model_validate(record, context=context).to_raw()
        except ValidationError as err:
            part.rejects.append(_validation_reject(relative, line, model, record, err, raw))
            continue
        row.update(
            _source_file=relative,
            _source_line=line,
            _loaded_at=loaded_at,
            _release_action=release.action if release else None,
            _row_hash=fingerprint,
        )
        part.rows.append(row)
    part.is_empty = part.data_rows == 0
    part.drift.extend(
        {"source_file": relative, "column": key, "change": "new", "detail": f"in {count} line(s); ignored"}
        for key, count in sorted(json_keys.items())
    )
    return part


def _read_file(
    path: Path,
    relative: str,
    model: type[BaseModel],
    releases: dict[tuple[str, int], Release],
    limits: IngestLimits,
    loaded_at: datetime,
) -> _FileRead:
    """Read one file in UTF-8, or in the encoding it is detected to be in; else quarantine it whole."""
    args = (path, relative, model)
    rest = (releases, limits, loaded_at)
    try:
        try:
            return _parse_file(*args, "utf-8-sig", *rest)
        except UnicodeDecodeError:
            detected = _detect_encoding(path)
        if detected is not None:
            try:
                return _parse_file(*args, detected, *rest)
            except UnicodeDecodeError:
                pass
        reason = (
            f"not valid UTF-8 from {_first_bad_byte(path, 'utf-8-sig')}, and no other encoding reads it "
            "with confidence; re-export the file as UTF-8 and drop it again"
        )
        rule = "undecodable_file"
    except (OSError, csv.Error) as error:
        reason = (
            f"the file cannot be read ({type(error).__name__}: {error}); fix or replace it and drop it again"
        )
        rule = "unreadable_file"
    return _FileRead(rejects=[_reject(relative, None, None, "(file)", rule, reason, None)])


def _drop_repeats(
    src: FileSource, rows: list[dict[str, Any]]
) -> tuple[list[dict], list[dict], dict[str, int]]:
    """Keep the first row per dedupe key; drop re-deliveries, quarantine conflicting duplicates.

    Returns:
        The rows kept, the ``duplicate_key`` rejects and the dropped re-deliveries per file.
    """
    key_columns = src.dedupe_key or tuple(src.columns)
    # Only a source whose repeated key may be a different row needs each row's content; for the
    # others (and when the key is the whole row) the key alone decides.
    compare = not src.replays_by_key and key_columns != tuple(src.columns)
    first: dict[tuple, tuple[str, int]] = {}
    versions: dict[tuple, set[tuple]] = {}
    kept, rejects, dropped = [], [], {}
    for row in rows:
        key = tuple(row[c] for c in key_columns)
        content = tuple(row[c] for c in src.columns) if compare else ()
        if key not in first:
            first[key] = (row["_source_file"], row["_source_line"])
            versions[key] = {content}
            kept.append(row)
        elif content in versions[key]:
            dropped[row["_source_file"]] = dropped.get(row["_source_file"], 0) + 1
        else:
            versions[key].add(content)
            rejects.append(
                duplicate_key_reject(
                    row["_source_file"], row["_source_line"], key_columns, key, first[key], row["_row_hash"]
                )
            )
    return kept, rejects, dropped


def duplicate_key_reject(
    file: str,
    line: int,
    key_columns: Sequence[str],
    key: Sequence[Any],
    first: tuple[str, int],
    fingerprint: str | None = None,
) -> dict:
    """The quarantine row of a row whose key was loaded first with other values.

    Args:
        file: The row's file, relative to the landing folder.
        line: The row's line.
        key_columns: The source's dedupe key columns.
        key: The row's values of them.
        first: File and line of the row loaded first with that key.
        fingerprint: The row's ``row_hash``, when known.

    Returns:
        A reject in the ``_reject`` layout, rule ``duplicate_key``.
    """
    value = ", ".join(str(v) for v in key)
    reason = (
        f"a different row with this {', '.join(key_columns)} was loaded first ({first[0]} line {first[1]}); "
        "fix the key or drop one of the two from the export"
    )
    return _reject(file, line, value, ",".join(key_columns), "duplicate_key", reason, value, fingerprint)


def read_source(
    src: FileSource,
    landing_dir: str | Path,
    run_id: str,
    releases: dict[tuple[str, int], Release] | None = None,
    limits: IngestLimits | None = None,
    only: Collection[str] | None = None,
) -> LoadResult:
    """Read every file of one source from the landing folder.

    Files are read in name order; a row repeated within or across files keeps its first copy
    (see ``FileSource.dedupe_key``), so a re-delivered export changes nothing.

    Args:
        src: The source to read.
        landing_dir: The landing folder.
        run_id: The pipeline run, written into quarantine rows.
        releases: Released rows by (file relative to the landing folder, line); a release applies
            only while the row is unchanged (same fingerprint).
        limits: Plausible dates and field sizes (default: as of today, from 2000-01-01, 128 KiB).
        only: Read just these files (relative to the landing folder), e.g. the new ones of a
            load plan; None reads every file of the source.

    Returns:
        Valid rows and quarantined rows; a file that cannot be read at all is quarantined as one
        row naming the file and what to do.
    """
    landing = Path(landing_dir)
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    releases = releases or {}
    limits = limits or IngestLimits.around(loaded_at.date())
    parts: dict[str, _FileRead] = {}
    for path in sorted(landing.glob(src.pattern)):
        relative = path.relative_to(landing).as_posix()
        if only is not None and relative not in only:
            continue
        model = src.model_for(path)
        if model is None:
            prefixes = ", ".join(f"{p}*.csv" for p in src.models)
            reason = f"no schema for this file name; name it one of: {prefixes}"
            parts[relative] = _FileRead(
                rejects=[_reject(relative, None, None, "(file)", "unknown_file", reason, None)]
            )
            continue
        parts[relative] = _read_file(path, relative, model, releases, limits, loaded_at)
    rows, duplicate_rejects, dropped = _drop_repeats(
        src, [row for part in parts.values() for row in part.rows]
    )
    rejects = [reject for part in parts.values() for reject in part.rejects] + duplicate_rejects
    loaded: dict[str, int] = {}
    for row in rows:
        loaded[row["_source_file"]] = loaded.get(row["_source_file"], 0) + 1
        del row["_row_hash"]
    quarantined: dict[str, int] = {}
    for reject in rejects:
        quarantined[reject["source_file"]] = quarantined.get(reject["source_file"], 0) + 1
    columns = {**src.columns, **_LINEAGE}
    frame = pd.DataFrame(rows, columns=list(columns)).astype(columns)
    rejected = pd.DataFrame(rejects)
    if not rejected.empty:
        rejected["run_id"] = run_id
        rejected["quarantined_at"] = loaded_at
    return LoadResult(
        rows=frame,
        rejects=rejected,
        files=list(parts),
        unexpected_columns={file: part.unexpected for file, part in parts.items() if part.unexpected},
        drift=[entry for part in parts.values() for entry in part.drift],
        releases_applied=sum(part.applied for part in parts.values()),
        file_stats=[
            {
                "source_file": file,
                "encoding": part.encoding,
                "data_rows": part.data_rows,
                "rows_loaded": loaded.get(file, 0),
                "rows_quarantined": quarantined.get(file, 0),
                "duplicates_dropped": dropped.get(file, 0),
                "is_empty": part.is_empty,
            }
            for file, part in parts.items()
        ],
    )
