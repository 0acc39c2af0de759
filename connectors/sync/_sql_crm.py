"""The SQL CRM destination: CDP fields into a SQL CRM database, batched and idempotent.

The sync engine decides what to send; this module writes it. Each batch is one CRM transaction;
its checksums reach the sync state only after that transaction committed, so a crash in between
costs a resend (upserts and updates by key are idempotent), never a lost change.
"""

import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import duckdb
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError, SQLAlchemyError

from connectors.sync._engine import Change, Outcome, SyncPolicy, run_sync
from connectors.sync._records import build_records, normalize_key
from connectors.sync._target import INPUT_KEY, SqlCrmTarget, SyncConfigError, SyncError, SyncResult

log = logging.getLogger(__name__)

# Errors caused by one row's values: the batch is retried row by row so the other rows still land.
_ROW_ERRORS = (IntegrityError, DataError)
_INTEGER_TEXT = re.compile(r"^[+-]?\d+$")
_MAX_ERROR_LENGTH = 500

_SIDE_TABLE_TYPES: dict[str, sa.types.TypeEngine] = {
    "customer_id": sa.String(255),
    "health_score": sa.Double(),
    "health_tier": sa.String(64),
    "health_top_reason": sa.Text(),
    "synced_at": sa.DateTime(),
}


class SqlCrmDestination:
    """A SQL CRM table as a sync destination (see ``SqlCrmTarget``).

    Attributes:
        target: The CRM database, table, layout and field mapping.
        name: Destination name in sync state and logs.
        object_type: Kind of record.
        key_name: The key column records are matched on.
        batch_size: Rows per write statement and transaction.
        overwrite_nulls: Whether a NULL may replace a CRM value.
        integer_keys: Key type of a side table this destination creates (BIGINT, else text).
    """

    def __init__(self, target: SqlCrmTarget, *, integer_keys: bool = True) -> None:
        self.target = target
        self.integer_keys = integer_keys
        self.name = target.destination
        self.object_type = target.object_type
        self.key_name = target.key_column
        self.batch_size = target.batch_size
        self.overwrite_nulls = target.overwrite_nulls
        self._engine: sa.Engine | None = None
        self._table: sa.Table | None = None

    def prepare(self, dry_run: bool) -> bool:
        """Open the database and check the table (creating a missing side table unless ``dry_run``).

        Args:
            dry_run: Only inspect.

        Returns:
            True when the table is new (or would be), so it holds nothing whatever the state says.
        """
        self._engine = _engine(self.target)
        self._table, fresh = _prepare_table(self._engine, self.target, dry_run, self.integer_keys)
        return fresh

    def match_key(self, record_key: str, key: Any) -> str:
        """Return the key as the table's key column holds it, so ``0101`` and ``101`` of an integer column agree.

        Args:
            record_key: The record key.
            key: The key as given (int or text).

        Returns:
            The bound key as text; the record key itself for a side table this run has yet to create,
            or a key the column cannot hold (its write reports that).
        """
        if self._table is None:
            return record_key
        try:
            return str(_bind_key(key, self._table.c[self.target.key_column], self.target))
        except ValueError:
            return record_key

    def lookup(self, changes: Sequence[Change]) -> dict[str, str]:
        """Return record_key -> key for the changes whose row exists in the table."""
        if self._table is None or not changes:
            return {}
        key_column = self._table.c[self.target.key_column]
        bound = {}
        for change in changes:
            try:
                bound[change.record_key] = _bind_key(change.key, key_column, self.target)
            except ValueError:
                continue
        try:
            with self._connection().connect() as conn:
                found = conn.execute(
                    sa.select(key_column).where(key_column.in_(list(bound.values())))
                ).scalars()
                existing = {str(normalize_key(k)) for k in found}
        except SQLAlchemyError as exc:
            raise SyncError(
                f"cannot read CRM table '{self.target.table_name}': {_describe(exc, self.target)}"
            ) from None
        return {k: k for k in bound if k in existing}

    def write(self, changes: Sequence[Change], operation: str) -> list[Outcome]:
        """Write one batch in one transaction; a row-data error retries the batch row by row."""
        return _send(self._connection(), self._require_table(), self.target, changes, _now())

    def delete(self, changes: Sequence[Change]) -> list[Outcome]:
        """Delete side-table rows this tool created, in one transaction."""
        table = self._require_table()
        key_column = table.c[self.target.key_column]
        keys = [_bind_key(c.key, key_column, self.target) for c in changes]
        try:
            with self._connection().begin() as conn:
                conn.execute(sa.delete(table).where(key_column.in_(keys)))
        except SQLAlchemyError as exc:
            message = _describe(exc, self.target)
            return [Outcome(c.record_key, "delete", message, _retryable(exc)) for c in changes]
        return [Outcome(c.record_key, "delete") for c in changes]

    def read(self, record_keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Read the mapped columns of the given records (none when the table is missing)."""
        if self._table is None:
            self.prepare(dry_run=True)
        table = self._table
        if table is None:
            return {}
        key_column = table.c[self.target.key_column]
        keys = [_bind_key(normalize_key(k), key_column, self.target) for k in record_keys]
        columns = [table.c[c] for f, c in self.target.columns.items() if f != "synced_at"]
        with self._connection().connect() as conn:
            rows = conn.execute(sa.select(key_column, *columns).where(key_column.in_(keys))).mappings().all()
        return {
            str(normalize_key(row[self.target.key_column])): {c.name: row[c.name] for c in columns}
            for row in rows
        }

    def close(self) -> None:
        """Dispose of the engine."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _connection(self) -> sa.Engine:
        if self._engine is None:
            self._engine = _engine(self.target)
        return self._engine

    def _require_table(self) -> sa.Table:
        if self._table is None:
            self.prepare(dry_run=False)
        assert self._table is not None
        return self._table


def sync_sql_crm(
    records: pd.DataFrame,
    target: SqlCrmTarget,
    state_con: duckdb.DuckDBPyConnection,
    *,
    run_id: str | None = None,
    dry_run: bool = False,
    full_refresh: bool = False,
    policy: SyncPolicy | None = None,
) -> SyncResult:
    """Write new or changed CDP fields of CRM contacts into the CRM database.

    Args:
        records: One row per CRM contact: ``contact_id`` plus the columns of the fields in
            ``target.field_map`` (``customer_id``, ``health_score``, ``health_tier``,
            ``health_top_reason`` by default). Other columns are ignored.
        target: The CRM database, table, layout and field mapping.
        state_con: Open DuckDB warehouse connection holding ``sync.*`` (created when missing).
        run_id: Identifier for state and log rows, e.g. the orchestrator's run id; a new one if None.
        dry_run: Plan only (reading the CRM and the state); overrides ``policy.dry_run``.
        full_refresh: Ignore the stored checksums; overrides ``policy.full_refresh``.
        policy: Mode and safety settings; defaults to upsert with null protection from ``target``.

    Returns:
        The run's counts. Failed rows are logged in ``sync.sync_log`` and ``sync.dead_letters``.

    Raises:
        SyncConfigError: The input lacks a mapped column, or the CRM table or a mapped column is
            missing; nothing was written.
        SyncError: The CRM database cannot be reached or inspected; nothing was written.
    """
    base = policy or SyncPolicy(overwrite_nulls=target.overwrite_nulls)
    effective = replace(
        base,
        overwrite_nulls=target.overwrite_nulls,
        dry_run=dry_run or base.dry_run,
        full_refresh=full_refresh or base.full_refresh,
    )
    target = _without_owned_stamp(target, effective.crm_owned_fields)
    planned = build_records(
        records,
        key_column=INPUT_KEY,
        fields={f: c for f, c in target.columns.items() if f != "synced_at"},
    )
    integer_keys = all(isinstance(r.key, int) for r in planned if r.key is not None)
    destination = SqlCrmDestination(target, integer_keys=integer_keys)
    return run_sync(planned, destination, state_con, effective, run_id=run_id)


def _without_owned_stamp(target: SqlCrmTarget, owned: frozenset[str]) -> SqlCrmTarget:
    """The target minus its ``synced_at`` column when the CRM owns that column.

    The engine drops CRM-owned data fields from every payload; the timestamp is not part of a
    payload (the destination stamps it), so ownership of it is applied to the mapping instead.
    """
    stamp = target.columns.get("synced_at")
    if stamp is None or stamp not in owned:
        return target
    return replace(target, field_map={f: c for f, c in target.columns.items() if f != "synced_at"})


def _engine(target: SqlCrmTarget) -> sa.Engine:
    try:
        return sa.create_engine(target.sa_url, hide_parameters=True)
    except SQLAlchemyError as exc:
        raise SyncError(f"cannot open CRM database {target.safe_url}: {_describe(exc, target)}") from None


def _prepare_table(
    engine: sa.Engine, target: SqlCrmTarget, dry_run: bool, integer_keys: bool
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
                table = _side_table(target, integer_keys)
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


def _side_table(target: SqlCrmTarget, integer_keys: bool) -> sa.Table:
    schema, name = target.schema_and_table
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
    table: sa.Table,
    target: SqlCrmTarget,
    batch: Sequence[Change],
    synced_at: datetime,
) -> list[Outcome]:
    """Write one batch in one transaction; one outcome per change."""
    default_operation = "insert" if target.mode == "side_table" else "update"
    key_column = table.c[target.key_column]
    outcomes: list[Outcome] = []
    bound: dict[str, Any] = {}
    for change in batch:
        try:
            bound[change.record_key] = _bind_key(change.key, key_column, target)
        except ValueError as exc:
            outcomes.append(Outcome(change.record_key, default_operation, str(exc)))
    sendable = [c for c in batch if c.record_key in bound]
    if not sendable:
        return outcomes
    try:
        with engine.begin() as conn:
            found = conn.execute(sa.select(key_column).where(key_column.in_(list(bound.values())))).scalars()
            existing = {str(normalize_key(k)) for k in found}
            planned: list[Outcome] = []
            for change in sendable:
                if change.record_key in existing:
                    planned.append(Outcome(change.record_key, "update"))
                elif target.mode == "side_table":
                    planned.append(Outcome(change.record_key, "insert"))
                else:
                    planned.append(
                        Outcome(
                            change.record_key,
                            "update",
                            f"no row with {target.key_column}={change.record_key} in CRM table "
                            f"'{target.table_name}'; the sync only updates existing contacts",
                            # The contact may be created in the CRM later: try again next run.
                            retryable=True,
                        )
                    )
            ok = {o.record_key for o in planned if o.error is None}
            writable = [c for c in sendable if c.record_key in ok]
            if writable:
                statement, rows = _statement(table, target, writable, bound, synced_at)
                conn.execute(statement, rows)
    except _ROW_ERRORS as exc:
        if len(sendable) == 1:
            return [*outcomes, Outcome(sendable[0].record_key, default_operation, _describe(exc, target))]
        log.warning(
            "sync %s: a batch of %d failed on row data (%s); retrying row by row",
            target.destination,
            len(sendable),
            _describe(exc, target),
        )
        for change in sendable:
            outcomes.extend(_send(engine, table, target, [change], synced_at))
        return outcomes
    except SQLAlchemyError as exc:
        message = _describe(exc, target)
        log.warning("sync %s: a batch of %d failed: %s", target.destination, len(sendable), message)
        return [
            *outcomes,
            *(Outcome(c.record_key, default_operation, message, _retryable(exc)) for c in sendable),
        ]
    return [*outcomes, *planned]


def _retryable(exc: SQLAlchemyError) -> bool:
    """Lost connections, deadlocks and timeouts pass; constraint and type errors do not."""
    return isinstance(exc, OperationalError | InterfaceError) or bool(
        getattr(exc, "connection_invalidated", False)
    )


def _statement(
    table: sa.Table,
    target: SqlCrmTarget,
    changes: Sequence[Change],
    bound: dict[str, Any],
    synced_at: datetime,
) -> tuple[sa.Executable, list[dict[str, Any]]]:
    # Null protection and field ownership leave fields out of a payload; a missing field is NULL
    # here, which _keep turns into "keep the CRM's value" unless nulls may overwrite.
    sent = {name for c in changes for name in c.values}
    columns = [c for f, c in target.columns.items() if f != "synced_at" and c in sent]
    synced_column = target.columns.get("synced_at")
    stamp = synced_at
    if synced_column is not None and getattr(table.c[synced_column].type, "timezone", False):
        stamp = synced_at.replace(tzinfo=UTC)
    values = [
        {**{c: change.values.get(c) for c in columns}, **({synced_column: stamp} if synced_column else {})}
        for change in changes
    ]
    written = [*columns, *([synced_column] if synced_column else [])]
    if target.mode == "side_table":
        rows = [{target.key_column: bound[c.record_key], **v} for c, v in zip(changes, values, strict=True)]
        return _upsert(table, target, written), rows
    # Bind names differ from column names: SQLAlchemy reserves column names in UPDATE ... SET.
    names = {column: f"_cdp_v{i}" for i, column in enumerate(written)}
    key_column = table.c[target.key_column]
    statement = (
        sa.update(table)
        .where(key_column == sa.bindparam("_cdp_key", type_=key_column.type))
        .values(
            {
                table.c[column]: _keep(
                    sa.bindparam(names[column], type_=table.c[column].type), table.c[column], target
                )
                for column in written
            }
        )
    )
    rows = [
        {"_cdp_key": bound[c.record_key], **{names[col]: v[col] for col in written}}
        for c, v in zip(changes, values, strict=True)
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


def _describe(exc: BaseException, target: SqlCrmTarget) -> str:
    """One line naming the database's complaint, without SQL, parameters or the password."""
    original = getattr(exc, "orig", None) or exc
    text = " ".join(f"{type(original).__name__}: {original}".split())
    password = target.sa_url.password
    if password:
        text = text.replace(str(password), "***")
    return text[:_MAX_ERROR_LENGTH]


def _now() -> datetime:
    # Whole seconds, naive UTC: the warehouse convention, and what every CRM dialect stores exactly.
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
