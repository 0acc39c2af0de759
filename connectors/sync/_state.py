"""Sync state, row-level log and dead letters in the DuckDB warehouse (schema ``sync``).

``sync.sync_state`` holds, per (destination, object, record), the checksum and payload of what
the destination last CONFIRMED, whether this tool created the record (tracked mirror deletes only
those) and the destination's id for it. ``sync.sync_log`` records every row sent, failed or
skipped plus one summary row per run counting the unchanged ones. ``sync.dead_letters`` keeps the
latest failure of every record with the destination's error message until a later run succeeds,
and (operation ``skip_conflict``) every record left unsent because other input records share its
destination key, until they no longer do.
The caller owns the connection (DuckDB is single-writer).
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import duckdb
import pandas as pd

from connectors import warehouse

SCHEMA = "sync"

CONFLICT = "skip_conflict"
"""Operation of a record left unsent because other input records share its destination key."""

_DDL = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.sync_state (
        destination VARCHAR NOT NULL,
        object_type VARCHAR NOT NULL,
        record_key VARCHAR NOT NULL,
        checksum VARCHAR NOT NULL,
        synced_at TIMESTAMP NOT NULL,
        run_id VARCHAR NOT NULL,
        PRIMARY KEY (destination, object_type, record_key)
    )""",
    # Added after the first release: ALTER keeps existing warehouses' state.
    f"ALTER TABLE {SCHEMA}.sync_state ADD COLUMN IF NOT EXISTS payload VARCHAR",
    f"ALTER TABLE {SCHEMA}.sync_state ADD COLUMN IF NOT EXISTS created_by_sync BOOLEAN DEFAULT FALSE",
    f"ALTER TABLE {SCHEMA}.sync_state ADD COLUMN IF NOT EXISTS destination_id VARCHAR",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.sync_log (
        run_id VARCHAR NOT NULL,
        destination VARCHAR NOT NULL,
        object_type VARCHAR NOT NULL,
        record_key VARCHAR,
        operation VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        error VARCHAR,
        record_count INTEGER NOT NULL,
        logged_at TIMESTAMP NOT NULL
    )""",
    f"ALTER TABLE {SCHEMA}.sync_log ADD COLUMN IF NOT EXISTS retryable BOOLEAN",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.dead_letters (
        destination VARCHAR NOT NULL,
        object_type VARCHAR NOT NULL,
        record_key VARCHAR NOT NULL,
        operation VARCHAR NOT NULL,
        checksum VARCHAR,
        payload VARCHAR,
        error VARCHAR NOT NULL,
        retryable BOOLEAN NOT NULL,
        attempts INTEGER NOT NULL,
        first_failed_at TIMESTAMP NOT NULL,
        last_failed_at TIMESTAMP NOT NULL,
        run_id VARCHAR NOT NULL,
        resolved_at TIMESTAMP,
        PRIMARY KEY (destination, object_type, record_key)
    )""",
)


class LogEntry(NamedTuple):
    """One ``sync.sync_log`` row.

    Attributes:
        record_key: The record key, or None for a run's summary row.
        operation: ``insert``, ``update``, ``delete``, ``skip_unchanged``, ``skip_exists``,
            ``skip_dead_letter`` or ``skip_conflict``.
        status: ``ok``, ``error`` or ``skipped``.
        error: The destination's error message when ``status`` is ``error``.
        record_count: 1 for a row entry; the number of records for a summary row.
        retryable: For errors, whether the next run retries the record.
    """

    record_key: str | None
    operation: str
    status: str
    error: str | None = None
    record_count: int = 1
    retryable: bool | None = None


@dataclass(frozen=True)
class Confirmed:
    """A record the destination confirmed: its new sync state.

    Attributes:
        record_key: The record key.
        checksum: Checksum of the payload written.
        payload: The fields written (JSON-serialisable).
        created: True when this run created the record in the destination.
        destination_id: The destination's id of the record, when it has one.
    """

    record_key: str
    checksum: str
    payload: dict[str, Any]
    created: bool
    destination_id: str | None


@dataclass(frozen=True)
class Failure:
    """A record the destination refused (or never confirmed).

    Attributes:
        record_key: The record key.
        operation: What was attempted.
        checksum: Checksum of the payload attempted ("" for invalid input).
        payload: The fields attempted.
        error: The destination's error message.
        retryable: Whether the next run retries it whatever its values.
    """

    record_key: str
    operation: str
    checksum: str
    payload: dict[str, Any]
    error: str
    retryable: bool


class Letter(NamedTuple):
    """What an open ``sync.dead_letters`` row says about one record.

    Attributes:
        checksum: Checksum of what was attempted (of the conflicting records, for a conflict).
        retryable: Whether the next run retries it whatever its values.
        operation: What was attempted, or ``skip_conflict``.
        error: The destination's message, or why the record was not sent.
    """

    checksum: str | None
    retryable: bool
    operation: str
    error: str


@dataclass(frozen=True)
class StateRow:
    """What ``sync.sync_state`` says about one record.

    Attributes:
        checksum: Checksum of the payload last confirmed.
        payload: That payload.
        created_by_sync: Whether this tool created the record.
        destination_id: The destination's id, when known.
    """

    checksum: str
    payload: dict[str, Any]
    created_by_sync: bool
    destination_id: str | None


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ``sync`` schema and its tables (and newer columns) when missing.

    Args:
        con: Open warehouse connection.
    """
    for statement in _DDL:
        con.execute(statement)


def load_state(con: duckdb.DuckDBPyConnection, destination: str, object_type: str) -> dict[str, StateRow]:
    """Read the confirmed state of every record of a destination.

    Args:
        con: Open warehouse connection (may be read-only).
        destination: Destination name.
        object_type: Kind of record.

    Returns:
        record_key -> state; empty when nothing was synced yet or the table does not exist.
    """
    if not warehouse.table_exists(con, SCHEMA, "sync_state"):
        return {}
    columns = {r[0] for r in con.execute(f"DESCRIBE {SCHEMA}.sync_state").fetchall()}
    extra = (
        "payload, created_by_sync, destination_id"
        if "payload" in columns
        else "NULL, FALSE, NULL"  # a warehouse from before the columns existed, read by a dry run
    )
    rows = con.execute(
        f"SELECT record_key, checksum, {extra} FROM {SCHEMA}.sync_state "
        "WHERE destination = ? AND object_type = ?",
        [destination, object_type],
    ).fetchall()
    return {
        key: StateRow(checksum, json.loads(payload) if payload else {}, bool(created), dest_id)
        for key, checksum, payload, created, dest_id in rows
    }


def load_dead_letters(
    con: duckdb.DuckDBPyConnection, destination: str, object_type: str
) -> dict[str, Letter]:
    """Read the open (unresolved) dead letters of a destination.

    Args:
        con: Open warehouse connection.
        destination: Destination name.
        object_type: Kind of record.

    Returns:
        record_key -> its open letter.
    """
    if not warehouse.table_exists(con, SCHEMA, "dead_letters"):
        return {}
    rows = con.execute(
        f"SELECT record_key, checksum, retryable, operation, error FROM {SCHEMA}.dead_letters "
        "WHERE destination = ? AND object_type = ? AND resolved_at IS NULL",
        [destination, object_type],
    ).fetchall()
    return {
        key: Letter(checksum, bool(retryable), operation, error)
        for key, checksum, retryable, operation, error in rows
    }


def save(
    con: duckdb.DuckDBPyConnection,
    *,
    destination: str,
    object_type: str,
    run_id: str,
    at: datetime,
    confirmed: Sequence[Confirmed] = (),
    deleted: Sequence[str] = (),
    failures: Sequence[Failure] = (),
    resolved: Sequence[str] = (),
    log: Sequence[LogEntry] = (),
) -> None:
    """Record one batch's outcome in one warehouse transaction.

    Call it only after the destination confirmed the batch: a crash in between then costs a
    harmless resend, never a record marked synced that was not.

    Args:
        con: Open warehouse connection.
        destination: Destination name.
        object_type: Kind of record.
        run_id: The run's id.
        at: When (UTC, naive).
        confirmed: Records written, whose state is replaced and dead letters resolved.
        deleted: Record keys deleted from the destination, whose state is removed.
        failures: Records refused, upserted into the dead letters.
        resolved: Record keys whose open dead letter no longer holds although nothing was written
            (a conflict that ended).
        log: Log rows to append.
    """
    state = pd.DataFrame(
        {
            "record_key": pd.Series([c.record_key for c in confirmed], dtype="string"),
            "checksum": pd.Series([c.checksum for c in confirmed], dtype="string"),
            "payload": pd.Series([_json(c.payload) for c in confirmed], dtype="string"),
            "created": pd.Series([c.created for c in confirmed], dtype="boolean"),
            "destination_id": pd.Series([c.destination_id for c in confirmed], dtype="string"),
        }
    )
    dead = pd.DataFrame(
        {
            "record_key": pd.Series([f.record_key for f in failures], dtype="string"),
            "operation": pd.Series([f.operation for f in failures], dtype="string"),
            "checksum": pd.Series([f.checksum for f in failures], dtype="string"),
            "payload": pd.Series([_json(f.payload) for f in failures], dtype="string"),
            "error": pd.Series([f.error for f in failures], dtype="string"),
            "retryable": pd.Series([f.retryable for f in failures], dtype="boolean"),
        }
    )
    entries = pd.DataFrame(
        {
            "record_key": pd.Series([e.record_key for e in log], dtype="string"),
            "operation": pd.Series([e.operation for e in log], dtype="string"),
            "status": pd.Series([e.status for e in log], dtype="string"),
            "error": pd.Series([e.error for e in log], dtype="string"),
            "record_count": pd.Series([e.record_count for e in log], dtype="Int64"),
            "retryable": pd.Series([e.retryable for e in log], dtype="boolean"),
        }
    )
    removed = pd.DataFrame({"record_key": pd.Series(list(deleted), dtype="string")})
    ended = pd.DataFrame({"record_key": pd.Series(list(resolved), dtype="string")})
    frames = {
        "_cdp_state": state,
        "_cdp_dead": dead,
        "_cdp_log": entries,
        "_cdp_deleted": removed,
        "_cdp_resolved": ended,
    }
    for name, frame in frames.items():
        con.register(name, frame)
    scope = [destination, object_type]
    con.begin()
    try:
        if len(state):
            con.execute(
                f"""INSERT INTO {SCHEMA}.sync_state
                        (destination, object_type, record_key, checksum, synced_at, run_id, payload,
                         created_by_sync, destination_id)
                    SELECT ?, ?, record_key, checksum, ?, ?, payload, created, destination_id FROM _cdp_state
                    ON CONFLICT (destination, object_type, record_key) DO UPDATE SET
                        checksum = excluded.checksum,
                        synced_at = excluded.synced_at,
                        run_id = excluded.run_id,
                        payload = excluded.payload,
                        created_by_sync = sync_state.created_by_sync OR excluded.created_by_sync,
                        destination_id = coalesce(excluded.destination_id, sync_state.destination_id)""",
                [*scope, at, run_id],
            )
            con.execute(
                f"""UPDATE {SCHEMA}.dead_letters SET resolved_at = ?
                    WHERE destination = ? AND object_type = ? AND resolved_at IS NULL
                      AND record_key IN (SELECT record_key FROM _cdp_state)""",
                [at, *scope],
            )
        if len(ended):
            con.execute(
                f"""UPDATE {SCHEMA}.dead_letters SET resolved_at = ?
                    WHERE destination = ? AND object_type = ? AND resolved_at IS NULL
                      AND record_key IN (SELECT record_key FROM _cdp_resolved)""",
                [at, *scope],
            )
        if len(removed):
            con.execute(
                f"""DELETE FROM {SCHEMA}.sync_state WHERE destination = ? AND object_type = ?
                    AND record_key IN (SELECT record_key FROM _cdp_deleted)""",
                scope,
            )
        if len(dead):
            con.execute(
                f"""INSERT INTO {SCHEMA}.dead_letters
                        (destination, object_type, record_key, operation, checksum, payload, error,
                         retryable, attempts, first_failed_at, last_failed_at, run_id, resolved_at)
                    SELECT ?, ?, record_key, operation, checksum, payload, error, retryable, 1, ?, ?, ?, NULL
                    FROM _cdp_dead
                    ON CONFLICT (destination, object_type, record_key) DO UPDATE SET
                        operation = excluded.operation,
                        checksum = excluded.checksum,
                        payload = excluded.payload,
                        error = excluded.error,
                        retryable = excluded.retryable,
                        attempts = CASE WHEN dead_letters.resolved_at IS NULL
                                        THEN dead_letters.attempts + 1 ELSE 1 END,
                        first_failed_at = CASE WHEN dead_letters.resolved_at IS NULL
                                               THEN dead_letters.first_failed_at ELSE excluded.first_failed_at END,
                        last_failed_at = excluded.last_failed_at,
                        run_id = excluded.run_id,
                        resolved_at = NULL""",
                [*scope, at, at, run_id],
            )
        if len(entries):
            con.execute(
                f"""INSERT INTO {SCHEMA}.sync_log
                        (run_id, destination, object_type, record_key, operation, status, error,
                         record_count, logged_at, retryable)
                    SELECT ?, ?, ?, record_key, operation, status, error, record_count, ?, retryable
                    FROM _cdp_log""",
                [run_id, *scope, at],
            )
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        for name in frames:
            con.unregister(name)


def _json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
