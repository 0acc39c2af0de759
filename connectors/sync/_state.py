"""Sync state and row-level log in the DuckDB warehouse (schema ``sync``).

``sync.sync_state`` holds, per destination and record, the checksum of what was last written
successfully; ``sync.sync_log`` records every row sent or failed plus one summary row per run
counting the unchanged ones. The caller owns the connection (DuckDB is single-writer).
"""

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

import duckdb
import pandas as pd

from connectors import warehouse

SCHEMA = "sync"

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
)


class LogEntry(NamedTuple):
    """One ``sync.sync_log`` row.

    Attributes:
        record_key: The contact key, or None for the run's unchanged-summary row.
        operation: ``insert``, ``update`` or ``skip_unchanged``.
        status: ``ok`` or ``error``.
        error: The error message when ``status`` is ``error``.
        record_count: 1 for a row entry; the number of unchanged records for the summary row.
    """

    record_key: str | None
    operation: str
    status: str
    error: str | None = None
    record_count: int = 1


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ``sync`` schema and its tables when missing.

    Args:
        con: Open warehouse connection.
    """
    for statement in _DDL:
        con.execute(statement)


def load_checksums(con: duckdb.DuckDBPyConnection, destination: str, object_type: str) -> dict[str, str]:
    """Read the last successfully written checksum of every record of a destination.

    Args:
        con: Open warehouse connection (may be read-only).
        destination: Destination name.
        object_type: Kind of record.

    Returns:
        record_key -> checksum; empty when nothing was synced yet or the table does not exist.
    """
    if not warehouse.table_exists(con, SCHEMA, "sync_state"):
        return {}
    rows = con.execute(
        f"SELECT record_key, checksum FROM {SCHEMA}.sync_state WHERE destination = ? AND object_type = ?",
        [destination, object_type],
    ).fetchall()
    return dict(rows)


def save(
    con: duckdb.DuckDBPyConnection,
    *,
    destination: str,
    object_type: str,
    run_id: str,
    synced: Sequence[tuple[str, str]],
    synced_at: datetime,
    log: Sequence[LogEntry],
) -> None:
    """Record written checksums and log rows in one warehouse transaction.

    Call it only after the CRM transaction that wrote ``synced`` committed: a crash in between
    then costs a harmless resend, never a lost update.

    Args:
        con: Open warehouse connection.
        destination: Destination name.
        object_type: Kind of record.
        run_id: The run's id.
        synced: (record_key, checksum) of each record written.
        synced_at: When they were written (UTC, naive).
        log: Log rows to append.
    """
    state = pd.DataFrame(
        {
            "record_key": pd.Series([k for k, _ in synced], dtype="string"),
            "checksum": pd.Series([c for _, c in synced], dtype="string"),
        }
    )
    entries = pd.DataFrame(
        {
            "record_key": pd.Series([e.record_key for e in log], dtype="string"),
            "operation": pd.Series([e.operation for e in log], dtype="string"),
            "status": pd.Series([e.status for e in log], dtype="string"),
            "error": pd.Series([e.error for e in log], dtype="string"),
            "record_count": pd.Series([e.record_count for e in log], dtype="Int64"),
        }
    )
    con.register("_cdp_sync_state_batch", state)
    con.register("_cdp_sync_log_batch", entries)
    con.begin()
    try:
        if len(state):
            con.execute(
                f"""INSERT INTO {SCHEMA}.sync_state
                        (destination, object_type, record_key, checksum, synced_at, run_id)
                    SELECT ?, ?, record_key, checksum, ?, ? FROM _cdp_sync_state_batch
                    ON CONFLICT (destination, object_type, record_key) DO UPDATE SET
                        checksum = excluded.checksum,
                        synced_at = excluded.synced_at,
                        run_id = excluded.run_id""",
                [destination, object_type, synced_at, run_id],
            )
        if len(entries):
            con.execute(
                f"""INSERT INTO {SCHEMA}.sync_log
                        (run_id, destination, object_type, record_key, operation, status, error,
                         record_count, logged_at)
                    SELECT ?, ?, ?, record_key, operation, status, error, record_count, ?
                    FROM _cdp_sync_log_batch""",
                [run_id, destination, object_type, synced_at],
            )
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        con.unregister("_cdp_sync_state_batch")
        con.unregister("_cdp_sync_log_batch")
