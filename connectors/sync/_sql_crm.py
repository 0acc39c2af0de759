"""Writing CDP fields into a SQL CRM database: diff-based, batched, idempotent.

Only records whose checksum differs from the one last written successfully are sent. Each batch
is one CRM transaction; its checksums reach the sync state only after that transaction
committed, so a crash in between costs a resend (upserts and updates by key are idempotent),
never a lost change.
"""

import logging
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from connectors.sync import _state
from connectors.sync._records import Record, build_records, normalize_key
from connectors.sync._target import SqlCrmTarget, SyncConfigError, SyncError, SyncResult

log = logging.getLogger(__name__)

# Errors caused by one row's values: the batch is retried row by row so the other rows still land.
_ROW_ERRORS = (IntegrityError, DataError)
_INTEGER_TEXT = re.compile(r"^[+-]?\d+$")
_MAX_ERROR_LENGTH = 500
_MAX_RESULT_ERRORS = 5

_SIDE_TABLE_TYPES: dict[str, sa.types.TypeEngine] = {
    "customer_id": sa.String(255),
    "health_score": sa.Double(),
    "health_tier": sa.String(64),
    "health_top_reason": sa.Text(),
    "synced_at": sa.DateTime(),
}


@dataclass
class _Outcome:
    record: Record
    operation: str
    error: str | None = None


def sync_sql_crm(
    records: pd.DataFrame,
    target: SqlCrmTarget,
    state_con: duckdb.DuckDBPyConnection,
    *,
    run_id: str | None = None,
    dry_run: bool = False,
    full_refresh: bool = False,
) -> SyncResult:
    """Write new or changed CDP fields of CRM contacts into the CRM database.

    Args:
        records: One row per CRM contact: ``contact_id`` plus the columns of the fields in
            ``target.field_map`` (``customer_id``, ``health_score``, ``health_tier``,
            ``health_top_reason`` by default). Other columns are ignored.
        target: The CRM database, table, mode and field mapping.
        state_con: Open DuckDB warehouse connection holding ``sync.sync_state`` and ``sync.sync_log``
            (created when missing). The caller opens and closes it.
        run_id: Identifier for state and log rows, e.g. the orchestrator's run id; a new one if None.
        dry_run: Compute the plan (reading the CRM and the state) without writing to the CRM, the
            state or the log, and without creating any table.
        full_refresh: Ignore the stored checksums and send every valid record.

    Returns:
        The run's counts. Failed rows are logged in ``sync.sync_log`` and retried on the next run.

    Raises:
        SyncConfigError: The input lacks a mapped column, or the CRM table or a mapped column is
            missing; nothing was written.
        SyncError: The CRM database cannot be reached or inspected; nothing was written.
    """
    started = time.monotonic()
    run_id = run_id or uuid.uuid4().hex
    destination = target.destination
    planned = build_records(records, target)
    previous = {} if full_refresh else _state.load_checksums(state_con, destination, target.object_type)
    if not dry_run:
        _state.ensure_tables(state_con)

    engine = _engine(target)
    try:
        table, fresh = _prepare_table(engine, target, planned, dry_run)
        if fresh:
            # A side table that did not exist holds nothing, whatever the state says was sent.
            previous = {}
        invalid = [r for r in planned if r.error is not None]
        pending = [r for r in planned if r.error is None and previous.get(r.record_key) != r.checksum]
        unchanged = len(planned) - len(invalid) - len(pending)

        rejected = [_Outcome(r, _guess_operation(target, r, previous), r.error) for r in invalid]
        outcomes = list(rejected)
        for batch in _chunks(pending, target.batch_size):
            synced_at = _now()
            batch_outcomes = _send(engine, table, target, batch, synced_at, dry_run)
            outcomes.extend(batch_outcomes)
            if not dry_run:
                _state.save(
                    state_con,
                    destination=destination,
                    object_type=target.object_type,
                    run_id=run_id,
                    synced=[
                        (o.record.record_key, o.record.checksum) for o in batch_outcomes if o.error is None
                    ],
                    synced_at=synced_at,
                    log=[_log_entry(o) for o in batch_outcomes],
                )
    finally:
        engine.dispose()

    if not dry_run:
        _state.save(
            state_con,
            destination=destination,
            object_type=target.object_type,
            run_id=run_id,
            synced=[],
            synced_at=_now(),
            log=[
                *(_log_entry(o) for o in rejected),
                _state.LogEntry(None, "skip_unchanged", "ok", None, unchanged),
            ],
        )
    failed = [o for o in outcomes if o.error is not None]
    result = SyncResult(
        run_id=run_id,
        destination=destination,
        considered=len(planned),
        unchanged=unchanged,
        inserted=sum(1 for o in outcomes if o.error is None and o.operation == "insert"),
        updated=sum(1 for o in outcomes if o.error is None and o.operation == "update"),
        failed=len(failed),
        duration_s=round(time.monotonic() - started, 3),
        dry_run=dry_run,
        errors=tuple(dict.fromkeys(o.error for o in failed if o.error))[:_MAX_RESULT_ERRORS],
    )
    log.info(
        "sync %s run %s%s: %d considered, %d unchanged, %d inserted, %d updated, %d failed",
        destination,
        run_id,
        " (dry run)" if dry_run else "",
        result.considered,
        result.unchanged,
        result.inserted,
        result.updated,
        result.failed,
    )
    return result


def _engine(target: SqlCrmTarget) -> sa.Engine:
    try:
        return sa.create_engine(target.sa_url, hide_parameters=True)
    except SQLAlchemyError as exc:
        raise SyncError(f"cannot open CRM database {target.safe_url}: {_describe(exc, target)}") from None


def _prepare_table(
    engine: sa.Engine, target: SqlCrmTarget, planned: Sequence[Record], dry_run: bool
) -> tuple[sa.Table | None, bool]:
    """Return the target table and whether it is new; None for a side table a dry run would create."""
    schema, name = target.schema_and_table
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            if schema is not None and not inspector.has_schema(schema):
                raise SyncConfigError(
                    f"schema '{schema}' of CRM table '{target.table_name}' does not exist in "
                    f"{target.safe_url}; create it or set SqlCrmTarget.table to a table in an existing schema"
                )
            if not inspector.has_table(name, schema=schema):
                if target.mode == "columns":
                    raise SyncConfigError(
                        f"CRM table '{target.table_name}' does not exist in {target.safe_url}; set "
                        f"SqlCrmTarget.table to the CRM's contacts table, or use mode='side_table' to keep "
                        f"the fields in a table of their own"
                    )
                if dry_run:
                    return None, True
                table = _side_table(target, planned)
                table.create(conn, checkfirst=True)
                conn.commit()
                log.info("sync %s: created side table %s", target.destination, target.table_name)
                return table, True
            table = sa.Table(name, sa.MetaData(), schema=schema, autoload_with=conn)
    except SyncError:
        raise
    except SQLAlchemyError as exc:
        raise SyncError(
            f"cannot inspect CRM table '{target.table_name}' in {target.safe_url}: {_describe(exc, target)}"
        ) from None
    _check_table(table, target)
    return table, False


def _side_table(target: SqlCrmTarget, planned: Sequence[Record]) -> sa.Table:
    schema, name = target.schema_and_table
    integer_keys = all(isinstance(r.key, int) for r in planned if r.key is not None)
    key_type = sa.BigInteger() if integer_keys else sa.String(255)
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column(target.key_column, key_type, primary_key=True, autoincrement=False),
        *(sa.Column(column, _SIDE_TABLE_TYPES[field]) for field, column in target.columns.items()),
        schema=schema,
    )


def _check_table(table: sa.Table, target: SqlCrmTarget) -> None:
    missing = [] if target.key_column in table.c else [f"{target.key_column} (the contact key)"]
    missing += [
        f"{column} (for {field})" for field, column in target.columns.items() if column not in table.c
    ]
    if missing:
        if target.mode == "columns":
            fix = (
                "add them in the CRM (this sync never alters CRM tables) or map the fields to existing "
                "columns with SqlCrmTarget.field_map"
            )
        else:
            fix = (
                "add them, drop the side table so the sync recreates it, or set SqlCrmTarget.table to "
                "another table"
            )
        raise SyncConfigError(f"CRM table '{target.table_name}' lacks column(s) {', '.join(missing)}; {fix}")
    if target.mode == "side_table" and not _unique_on(table, target.key_column):
        raise SyncConfigError(
            f"side table '{target.table_name}' has no primary key or unique constraint on "
            f"'{target.key_column}', which upserts need; add one or set SqlCrmTarget.table to another table"
        )


def _unique_on(table: sa.Table, column: str) -> bool:
    if [c.name for c in table.primary_key.columns] == [column]:
        return True
    constraints = [c for c in table.constraints if isinstance(c, sa.UniqueConstraint)]
    indexes = [i for i in table.indexes if i.unique]
    return any([c.name for c in item.columns] == [column] for item in (*constraints, *indexes))


def _send(
    engine: sa.Engine,
    table: sa.Table | None,
    target: SqlCrmTarget,
    batch: Sequence[Record],
    synced_at: datetime,
    dry_run: bool,
) -> list[_Outcome]:
    """Write one batch in one transaction (or, in a dry run, only plan it)."""
    default_operation = "insert" if target.mode == "side_table" else "update"
    if table is None:
        return [_Outcome(r, default_operation) for r in batch]
    key_column = table.c[target.key_column]
    outcomes: list[_Outcome] = []
    bound: dict[str, Any] = {}
    for record in batch:
        try:
            bound[record.record_key] = _bind_key(record.key, key_column, target)
        except ValueError as exc:
            outcomes.append(_Outcome(record, default_operation, str(exc)))
    sendable = [r for r in batch if r.record_key in bound]
    if not sendable:
        return outcomes
    try:
        with engine.connect() if dry_run else engine.begin() as conn:
            found = conn.execute(sa.select(key_column).where(key_column.in_(list(bound.values())))).scalars()
            existing = {str(normalize_key(k)) for k in found}
            planned: list[_Outcome] = []
            for record in sendable:
                if record.record_key in existing:
                    planned.append(_Outcome(record, "update"))
                elif target.mode == "side_table":
                    planned.append(_Outcome(record, "insert"))
                else:
                    planned.append(
                        _Outcome(
                            record,
                            "update",
                            f"no row with {target.key_column}={record.record_key} in CRM table "
                            f"'{target.table_name}'; the sync only updates existing contacts",
                        )
                    )
            writable = [o.record for o in planned if o.error is None]
            if writable and not dry_run:
                statement, rows = _statement(table, target, writable, bound, synced_at)
                conn.execute(statement, rows)
    except _ROW_ERRORS as exc:
        if len(sendable) == 1:
            return [*outcomes, _Outcome(sendable[0], default_operation, _describe(exc, target))]
        log.warning(
            "sync %s: a batch of %d failed on row data (%s); retrying row by row",
            target.destination,
            len(sendable),
            _describe(exc, target),
        )
        for record in sendable:
            outcomes.extend(_send(engine, table, target, [record], synced_at, dry_run))
        return outcomes
    except SQLAlchemyError as exc:
        message = _describe(exc, target)
        log.warning("sync %s: a batch of %d failed: %s", target.destination, len(sendable), message)
        return [*outcomes, *(_Outcome(r, default_operation, message) for r in sendable)]
    return [*outcomes, *planned]


def _statement(
    table: sa.Table,
    target: SqlCrmTarget,
    records: Sequence[Record],
    bound: dict[str, Any],
    synced_at: datetime,
) -> tuple[sa.Executable, list[dict[str, Any]]]:
    columns = list(target.columns.values())
    synced_column = target.columns.get("synced_at")
    stamp = synced_at
    if synced_column is not None and getattr(table.c[synced_column].type, "timezone", False):
        stamp = synced_at.replace(tzinfo=UTC)
    values = [{**r.values, **({synced_column: stamp} if synced_column else {})} for r in records]
    if target.mode == "side_table":
        rows = [{target.key_column: bound[r.record_key], **v} for r, v in zip(records, values, strict=True)]
        return _upsert(table, target, columns), rows
    # Bind names differ from column names: SQLAlchemy reserves column names in UPDATE ... SET.
    names = {column: f"_cdp_v{i}" for i, column in enumerate(columns)}
    key_column = table.c[target.key_column]
    statement = (
        sa.update(table)
        .where(key_column == sa.bindparam("_cdp_key", type_=key_column.type))
        .values(
            {
                table.c[column]: _keep(
                    sa.bindparam(names[column], type_=table.c[column].type), table.c[column], target
                )
                for column in columns
            }
        )
    )
    rows = [
        {"_cdp_key": bound[r.record_key], **{names[c]: v[c] for c in columns}}
        for r, v in zip(records, values, strict=True)
    ]
    return statement, rows


def _upsert(table: sa.Table, target: SqlCrmTarget, columns: Sequence[str]) -> sa.Executable:
    if target.dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert(table) if target.dialect == "postgresql" else sqlite.insert(table)
        return insert.on_conflict_do_update(
            index_elements=[table.c[target.key_column]],
            set_={c: _keep(insert.excluded[c], table.c[c], target) for c in columns},
        )
    insert = mysql.insert(table)
    return insert.on_duplicate_key_update({c: _keep(insert.inserted[c], table.c[c], target) for c in columns})


def _keep(new: Any, current: sa.Column, target: SqlCrmTarget) -> Any:
    """The value to set: the new one, or the current one where the new one is NULL (null protection)."""
    return new if target.overwrite_nulls else sa.func.coalesce(new, current)


def _bind_key(key: int | str | None, column: sa.Column, target: SqlCrmTarget) -> int | str:
    if isinstance(column.type, sa.Integer):
        if isinstance(key, int):
            return key
        if isinstance(key, str) and _INTEGER_TEXT.match(key):
            return int(key)
        raise ValueError(
            f"contact_id {key!r} is not an integer, as CRM column "
            f"'{target.table_name}.{column.name}' requires"
        )
    return str(key)


def _guess_operation(target: SqlCrmTarget, record: Record, previous: dict[str, str]) -> str:
    """The operation an invalid record would have needed, judged from the sync state."""
    if target.mode == "columns" or record.record_key in previous:
        return "update"
    return "insert"


def _log_entry(outcome: _Outcome) -> _state.LogEntry:
    if outcome.error is None:
        return _state.LogEntry(outcome.record.record_key, outcome.operation, "ok")
    return _state.LogEntry(outcome.record.record_key, outcome.operation, "error", outcome.error)


def _describe(exc: BaseException, target: SqlCrmTarget) -> str:
    """One line naming the database's complaint, without SQL, parameters or the password."""
    original = getattr(exc, "orig", None) or exc
    text = " ".join(f"{type(original).__name__}: {original}".split())
    password = target.sa_url.password
    if password:
        text = text.replace(str(password), "***")
    return text[:_MAX_ERROR_LENGTH]


def _chunks(records: Sequence[Record], size: int) -> Iterator[Sequence[Record]]:
    for start in range(0, len(records), size):
        yield records[start : start + size]


def _now() -> datetime:
    # Whole seconds, naive UTC: the warehouse convention, and what every CRM dialect stores exactly.
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
