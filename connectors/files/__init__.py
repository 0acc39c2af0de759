"""File sources dropped into the landing folder: Segment JSON lines, ESP CSV, lead forms, tickets, NPS, consent.

Every row is validated against its tool's schema (see ``_models``); rows that fail go to the
quarantine frame with the file, line, field, rule and reason, and never stop the good rows. Rows a
steward released (``cdp quality quarantine release``) are read again from their file, with the
steward's fixes applied, and validated again; header changes are reported as schema drift.
"""

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
    """

    name: str
    schema: str
    table: str
    pattern: str
    models: dict[str, type[BaseModel]]
    key: str
    columns: dict[str, str]
    description: str

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
    """

    rows: pd.DataFrame
    rejects: pd.DataFrame
    files: list[str] = field(default_factory=list)
    unexpected_columns: dict[str, list[str]] = field(default_factory=dict)
    drift: list[dict[str, str]] = field(default_factory=list)
    releases_applied: int = 0


def row_hash(raw: str) -> str:
    """Fingerprint a row's text (first 16 hex digits of its SHA-256), to tie a release to it.

    Args:
        raw: The row as read (a JSON line, or a CSV row rendered as JSON).

    Returns:
        The fingerprint.
    """
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


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


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None, str]]:
    """Yield (line, record or None, parse error or None, raw text) for each data line of a file."""
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, None, f"invalid JSON: {exc.msg} at column {exc.colno}", line.strip()
                    continue
                if not isinstance(record, dict):
                    yield number, None, "a line must hold one JSON object", line.strip()
                    continue
                yield number, record, None, line.strip()
    else:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
            reader = csv.DictReader(handle)
            for record in reader:
                raw = json.dumps(record, ensure_ascii=False, default=str)
                if None in record:
                    yield reader.line_num, None, "more values than header columns", raw
                    continue
                yield reader.line_num, record, None, raw


def _header(path: Path) -> list[str]:
    if path.suffix == ".jsonl":
        return []
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        return next(csv.reader(handle), [])


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


def read_source(
    src: FileSource,
    landing_dir: str | Path,
    run_id: str,
    releases: dict[tuple[str, int], Release] | None = None,
) -> LoadResult:
    """Read every file of one source from the landing folder.

    Args:
        src: The source to read.
        landing_dir: The landing folder.
        run_id: The pipeline run, written into quarantine rows.
        releases: Released rows by (file relative to the landing folder, line); a release applies
            only while the row is unchanged (same fingerprint).

    Returns:
        Valid rows and quarantined rows; a file that cannot be read at all is quarantined as one
        row naming the file and what to do.
    """
    landing = Path(landing_dir)
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    releases = releases or {}
    rows: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    files: list[str] = []
    unexpected: dict[str, list[str]] = {}
    drift: list[dict[str, str]] = []
    applied = 0
    for path in sorted(landing.glob(src.pattern)):
        relative = path.relative_to(landing).as_posix()
        files.append(relative)
        model = src.model_for(path)
        if model is None:
            prefixes = ", ".join(f"{p}*.csv" for p in src.models)
            rejects.append(
                _reject(
                    relative,
                    None,
                    None,
                    "(file)",
                    "unknown_file",
                    f"no schema for this file name; name it one of: {prefixes}",
                    None,
                )
            )
            continue
        header = _header(path)
        required, known = _expected_headers(model)
        if header:
            drift.extend(_header_drift(relative, header, required, known))
            missing = sorted(required - set(header))
            if missing:
                rejects.append(
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
                continue
            extra = sorted(set(header) - known)
            if extra:
                unexpected[relative] = extra
        json_keys: dict[str, int] = {}
        for line, record, parse_error, raw in _records(path):
            if record is None:
                rejects.append(
                    _reject(relative, line, None, "(row)", "unparseable", parse_error, raw, row_hash(raw))
                )
                continue
            if not header:
                for key in record.keys() - known:
                    json_keys[key] = json_keys.get(key, 0) + 1
            release = releases.get((relative, line))
            if release is not None and release.row_hash != row_hash(raw):
                release = None
            if release is not None:
                applied += 1
                record = _apply_fixes(record, release.fixes)
            context = {m.ACCEPT_CONTEXT: release is not None and release.action == "accept"}
            try:
                row = model.model_validate(record, context=context).to_raw()
            except ValidationError as err:
                rejects.append(_validation_reject(relative, line, model, record, err, raw))
                continue
            row.update(
                _source_file=relative,
                _source_line=line,
                _loaded_at=loaded_at,
                _release_action=release.action if release else None,
            )
            rows.append(row)
        drift.extend(
            {
                "source_file": relative,
                "column": key,
                "change": "new",
                "detail": f"in {count} line(s); ignored",
            }
            for key, count in sorted(json_keys.items())
        )
    columns = {**src.columns, **_LINEAGE}
    frame = pd.DataFrame(rows, columns=list(columns)).astype(columns)
    rejected = pd.DataFrame(rejects)
    if not rejected.empty:
        rejected["run_id"] = run_id
        rejected["quarantined_at"] = loaded_at
    return LoadResult(
        rows=frame,
        rejects=rejected,
        files=files,
        unexpected_columns=unexpected,
        drift=drift,
        releases_applied=applied,
    )
