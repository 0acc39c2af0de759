"""Writing DataFrames into the DuckDB warehouse, and the quarantine, release and schema-drift tables.

DuckDB is single-writer: callers open one connection with ``with duckdb.connect(path) as con`` and
pass it in; nothing here keeps a connection.
"""

import hashlib
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

QUARANTINE_COLUMNS = [
    "source_file",
    "source_line",
    "record_key",
    "field",
    "rule",
    "reason",
    "raw_value",
    "run_id",
    "quarantined_at",
    "row_hash",
    "released_at",
    "released_by",
    "release_action",
]
_QUARANTINE_TYPES = {
    "source_file": "string",
    "source_line": "Int64",
    "record_key": "string",
    "field": "string",
    "rule": "string",
    "reason": "string",
    "raw_value": "string",
    "run_id": "string",
    "quarantined_at": "datetime64[us]",
    "row_hash": "string",
    "released_at": "datetime64[us]",
    "released_by": "string",
    "release_action": "string",
}
QUALITY_SCHEMA = "quality"
SCHEMA_DRIFT_TYPES = {
    "run_id": "string",
    "detected_at": "datetime64[us]",
    "source_schema": "string",
    "source_table": "string",
    "source_file": "string",
    "column": "string",
    "change": "string",
    "detail": "string",
}
RELEASED_ROWS_TYPES = {
    "source_schema": "string",
    "source_table": "string",
    "source_file": "string",
    "source_line": "Int64",
    "row_hash": "string",
    "rule": "string",
    "action": "string",
    "fixes": "string",
    "released_at": "datetime64[us]",
    "released_by": "string",
}


def _ident(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"'{name}' is not a valid warehouse identifier (letters, digits, underscore)")
    return f'"{name}"'


def qualified(schema: str, table: str) -> str:
    """Return the quoted ``schema.table`` name, refusing anything that is not a plain identifier.

    Args:
        schema: Schema name.
        table: Table name.

    Returns:
        The quoted, qualified name safe to put into SQL.
    """
    return f"{_ident(schema)}.{_ident(table)}"


MEMORY_LIMIT_VARIABLE = "CDP_DUCKDB_MEMORY_LIMIT"
TEMP_DIR_VARIABLE = "CDP_DUCKDB_TEMP_DIR"


def engine_config(path: str | Path) -> dict[str, str]:
    """DuckDB's memory limit and spill folder for the warehouse, from the environment.

    ``CDP_DUCKDB_MEMORY_LIMIT`` (default ``80%`` of RAM, DuckDB's own) caps what a query holds in
    memory; beyond it DuckDB spills to ``CDP_DUCKDB_TEMP_DIR`` (default: ``<warehouse>.tmp`` beside
    the file) instead of failing. dbt gets the same values (``Settings.dbt_env``).

    Args:
        path: The DuckDB file.

    Returns:
        ``memory_limit`` and ``temp_directory`` for ``duckdb.connect(config=...)``.
    """
    return {
        "memory_limit": os.environ.get(MEMORY_LIMIT_VARIABLE, "").strip() or "80%",
        "temp_directory": os.environ.get(TEMP_DIR_VARIABLE, "").strip() or f"{Path(path)}.tmp",
    }


def connect(path: str | Path) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, creating its folder on first use, with the configured memory limit.

    Args:
        path: The DuckDB file.

    Returns:
        A connection; use it as a context manager so it is closed.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(path), config=engine_config(path))


def replace_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, df: pd.DataFrame) -> int:
    """Replace a table with the DataFrame's rows, in one transaction.

    Args:
        con: Open warehouse connection.
        schema: Target schema (created if missing).
        table: Target table.
        df: The rows; its dtypes decide the column types.

    Returns:
        The number of rows written.
    """
    name = qualified(schema, table)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)}")
    con.register("_incoming", df)
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _incoming")
        con.execute("COMMIT")
    finally:
        con.unregister("_incoming")
    return len(df)


def upsert_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, df: pd.DataFrame, key: str) -> int:
    """Insert or replace rows by primary key; creates the table from the DataFrame if missing.

    Columns that appear in the source but not yet in the table are added, so a new CRM column does
    not break the load.

    Args:
        con: Open warehouse connection.
        schema: Target schema.
        table: Target table.
        df: New or changed rows.
        key: The primary-key column.

    Returns:
        The number of rows upserted.
    """
    name = qualified(schema, table)
    if not table_exists(con, schema, table):
        return replace_table(con, schema, table, df)
    if df.empty:
        return 0
    existing = {r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()}
    con.register("_incoming", df)
    try:
        con.execute("BEGIN TRANSACTION")
        for column in df.columns:
            if column not in existing:
                column_type = con.execute(
                    f"SELECT typeof({_ident(column)}) FROM _incoming LIMIT 1"
                ).fetchall()[0][0]
                con.execute(f"ALTER TABLE {name} ADD COLUMN {_ident(column)} {column_type}")
        columns = ", ".join(_ident(c) for c in df.columns)
        con.execute(f"DELETE FROM {name} WHERE {_ident(key)} IN (SELECT {_ident(key)} FROM _incoming)")
        con.execute(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM _incoming")
        con.execute("COMMIT")
    finally:
        con.unregister("_incoming")
    return len(df)


def changed_rows(con: duckdb.DuckDBPyConnection, schema: str, table: str, df: pd.DataFrame) -> pd.DataFrame:
    """Keep the rows of ``df`` that the table does not already hold with exactly these values.

    An incremental read re-reads the rows at its boundary; upserting them unchanged would stamp
    them as new and make every downstream step see a changed table.

    Args:
        con: Open warehouse connection.
        schema: Schema of the table.
        table: The table (missing, or lacking one of ``df``'s columns: every row counts as changed).
        df: Rows just read, in the table's layout (a subset of its columns).

    Returns:
        The new or changed rows.
    """
    if df.empty or not table_exists(con, schema, table):
        return df
    existing = {r[0] for r in con.execute(f"DESCRIBE {qualified(schema, table)}").fetchall()}
    if not set(df.columns) <= existing:
        return df
    same = " AND ".join(f"t.{_ident(c)} IS NOT DISTINCT FROM i.{_ident(c)}" for c in df.columns)
    con.register("_incoming", df.reset_index(drop=True).assign(_incoming_row=lambda f: range(len(f))))
    try:
        unchanged = {
            r[0]
            for r in con.execute(
                f"SELECT i._incoming_row FROM _incoming i WHERE EXISTS "
                f"(SELECT 1 FROM {qualified(schema, table)} t WHERE {same})"
            ).fetchall()
        }
    finally:
        con.unregister("_incoming")
    return df.reset_index(drop=True).drop(index=sorted(unchanged))


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Tell whether ``schema.table`` exists in the warehouse.

    Args:
        con: Open warehouse connection.
        schema: Schema name.
        table: Table name.

    Returns:
        True when the table or view exists.
    """
    # fetchall, not fetchone: DuckDB keeps a partly fetched result open and refuses other work.
    rows = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, table],
    ).fetchall()
    return bool(rows[0][0])


def read_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> pd.DataFrame:
    """Read a whole warehouse table into pandas.

    Args:
        con: Open warehouse connection.
        schema: Schema name.
        table: Table name.

    Returns:
        The table's rows.
    """
    return con.execute(f"SELECT * FROM {qualified(schema, table)}").df()


def write_quarantine(
    con: duckdb.DuckDBPyConnection,
    source_schema: str,
    source_table: str,
    rejects: pd.DataFrame,
    keep_previous: bool = False,
) -> int:
    """Replace the quarantine table of one raw table with this run's rejected rows.

    The quarantine table is ``quarantine.<schema>__<table>`` and always exists after a load, empty
    when nothing was rejected, so stewards and checks can rely on it.

    Args:
        con: Open warehouse connection.
        source_schema: Schema of the raw table the rows were meant for.
        source_table: The raw table.
        rejects: Rows with the ``QUARANTINE_COLUMNS`` (release columns may be absent).
        keep_previous: Keep earlier rows this run did not re-read (incremental sources), one row
            per record key, rule and fingerprint.

    Returns:
        The number of rows in the quarantine table.
    """
    frame = rejects.reindex(columns=QUARANTINE_COLUMNS).astype(_QUARANTINE_TYPES)
    table = f"{source_schema}__{source_table}"
    if keep_previous and table_exists(con, "quarantine", table):
        earlier = read_table(con, "quarantine", table).reindex(columns=QUARANTINE_COLUMNS)
        frame = pd.concat([frame, earlier.astype(_QUARANTINE_TYPES)], ignore_index=True)
        frame = frame.drop_duplicates(subset=["record_key", "rule", "row_hash"], keep="first")
    return replace_table(con, "quarantine", table, frame)


def quarantine_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """List the raw tables that have a quarantine table.

    Args:
        con: Open warehouse connection.

    Returns:
        (source schema, source table) pairs, sorted.
    """
    names = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'quarantine' ORDER BY 1"
    ).fetchall()
    return [tuple(name.split("__", 1)) for (name,) in names if "__" in name]


def append_schema_drift(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    source_schema: str,
    source_table: str,
    drift: list[dict[str, str]],
) -> int:
    """Append this run's schema changes of one source to ``quality.schema_drift``.

    The table exists after every load (empty when nothing changed), one row per run, file and
    changed column: ``run_id, detected_at, source_schema, source_table, source_file, column,
    change ('new' | 'missing' | 'retyped'), detail``.

    Args:
        con: Open warehouse connection.
        run_id: The pipeline run.
        source_schema: Schema of the raw table.
        source_table: The raw table.
        drift: Dicts with ``source_file, column, change, detail``.

    Returns:
        The number of rows appended.
    """
    return _append_source_log(
        con, "schema_drift", SCHEMA_DRIFT_TYPES, run_id, source_schema, source_table, drift
    )


def _append_source_log(
    con: duckdb.DuckDBPyConnection,
    table: str,
    types: dict[str, str],
    run_id: str,
    source_schema: str,
    source_table: str,
    rows: list[dict],
) -> int:
    """Append one source's rows to a ``quality`` log table, stamped with the run, time and source.

    The table's second column (after ``run_id``) is the time stamp.
    """
    frame = pd.DataFrame(rows).reindex(columns=list(types))
    frame["run_id"] = run_id
    frame[list(types)[1]] = datetime.now(UTC).replace(tzinfo=None)
    frame["source_schema"] = source_schema
    frame["source_table"] = source_table
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {QUALITY_SCHEMA}")
    append_rows(con, QUALITY_SCHEMA, table, frame.astype(types))
    return len(frame)


INGEST_FILES_TYPES = {
    "run_id": "string",
    "loaded_at": "datetime64[us]",
    "source_schema": "string",
    "source_table": "string",
    "source_file": "string",
    "encoding": "string",
    "data_rows": "Int64",
    "rows_loaded": "Int64",
    "rows_quarantined": "Int64",
    "duplicates_dropped": "Int64",
    "is_empty": "boolean",
}


def append_ingest_files(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    source_schema: str,
    source_table: str,
    stats: list[dict],
) -> int:
    """Append what this run read from each file of one source to ``quality.ingest_files``.

    One row per run and file: ``run_id, loaded_at, source_schema, source_table, source_file,
    encoding, data_rows, rows_loaded, rows_quarantined, duplicates_dropped, is_empty``; the table
    exists after every file load, so the KPIs can count re-deliveries and empty files.

    Args:
        con: Open warehouse connection.
        run_id: The pipeline run.
        source_schema: Schema of the raw table.
        source_table: The raw table.
        stats: ``LoadResult.file_stats``.

    Returns:
        The number of rows appended.
    """
    return _append_source_log(
        con, "ingest_files", INGEST_FILES_TYPES, run_id, source_schema, source_table, stats
    )


def append_rows(con: duckdb.DuckDBPyConnection, schema: str, table: str, frame: pd.DataFrame) -> int:
    """Append rows to a table, creating it from the DataFrame when missing.

    Args:
        con: Open warehouse connection.
        schema: Target schema (created if missing).
        table: Target table.
        frame: The rows, with the table's columns.

    Returns:
        The number of rows appended.
    """
    if not table_exists(con, schema, table):
        return replace_table(con, schema, table, frame)
    if frame.empty:
        return 0
    con.register("_incoming", frame)
    try:
        columns = ", ".join(_ident(c) for c in frame.columns)
        con.execute(f"INSERT INTO {qualified(schema, table)} ({columns}) SELECT {columns} FROM _incoming")
    finally:
        con.unregister("_incoming")
    return len(frame)


def released_rows(con: duckdb.DuckDBPyConnection, source_schema: str, source_table: str) -> pd.DataFrame:
    """Return the steward releases of one raw table's quarantined rows, newest decision per row.

    Args:
        con: Open warehouse connection.
        source_schema: Schema of the raw table.
        source_table: The raw table.

    Returns:
        ``quality.released_rows`` rows for the table (empty when nothing was released).
    """
    if not table_exists(con, QUALITY_SCHEMA, "released_rows"):
        return pd.DataFrame(columns=list(RELEASED_ROWS_TYPES)).astype(RELEASED_ROWS_TYPES)
    return con.execute(
        """
        SELECT * FROM quality.released_rows
        WHERE source_schema = ? AND source_table = ?
        QUALIFY row_number() OVER (PARTITION BY source_file, source_line ORDER BY released_at DESC) = 1
        """,
        [source_schema, source_table],
    ).df()


def release_quarantined(
    con: duckdb.DuckDBPyConnection,
    source_schema: str,
    source_table: str,
    rows: pd.DataFrame,
    action: str,
    fixes: dict[str, str],
    released_by: str,
) -> int:
    """Record a steward's release of quarantined rows and mark them released in the quarantine.

    The next load reads the rows again from their files, applies ``fixes`` and validates them
    (``accept`` skips the row rules); the rows are flagged ``_release_action`` in the raw table.

    Args:
        con: Open warehouse connection.
        source_schema: Schema of the raw table.
        source_table: The raw table.
        rows: The quarantine rows to release (must have ``source_file, source_line, row_hash, rule``).
        action: ``fix`` or ``accept``.
        fixes: Field to new value, applied to every released row.
        released_by: Who released them.

    Returns:
        The number of rows released.
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    frame = rows[["source_file", "source_line", "row_hash", "rule"]].copy()
    frame.insert(0, "source_table", source_table)
    frame.insert(0, "source_schema", source_schema)
    frame["action"] = action
    frame["fixes"] = json.dumps(fixes, sort_keys=True, ensure_ascii=False)
    frame["released_at"] = now
    frame["released_by"] = released_by
    frame = frame.reindex(columns=list(RELEASED_ROWS_TYPES)).astype(RELEASED_ROWS_TYPES)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {QUALITY_SCHEMA}")
    append_rows(con, QUALITY_SCHEMA, "released_rows", frame)
    name = qualified("quarantine", f"{source_schema}__{source_table}")
    con.register("_released", frame)
    try:
        con.execute(
            f"""
            UPDATE {name} AS q SET released_at = ?, released_by = ?, release_action = ?
            FROM _released AS r
            WHERE q.source_file = r.source_file AND q.source_line = r.source_line AND q.row_hash = r.row_hash
            """,
            [now, released_by, action],
        )
    finally:
        con.unregister("_released")
    return len(frame)


PIPELINE_SCHEMA = "pipeline"
_STEP_STATE = "step_fingerprints"


def table_fingerprint(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str | None:
    """Fingerprint a table's content and shape: row count, the sum of its rows' hashes, its columns.

    Order-independent and counting repeated rows, so a table rebuilt with the same rows keeps its
    fingerprint and any changed, added or removed row changes it. Row hashes do not see column
    names, nor types that hash alike (INTEGER and BIGINT), so the column names and types are part
    of it too. One scan of the table.

    Args:
        con: Open warehouse connection.
        schema: Schema name.
        table: Table name.

    Returns:
        ``<rows>:<hash sum>:<columns hash>``, or None when the table does not exist.
    """
    if not table_exists(con, schema, table):
        return None
    described = con.execute(f"DESCRIBE {qualified(schema, table)}").fetchall()
    shape = hashlib.sha256(repr(described).encode()).hexdigest()[:16]
    return f"{_rows_fingerprint(con, schema, table, [r[0] for r in described])}:{shape}"


def columns_fingerprint(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, columns: list[str] | tuple[str, ...]
) -> str | None:
    """Fingerprint some columns of a table, as ``table_fingerprint`` does the whole rows.

    For a step that reads only these columns: a change elsewhere in the table (a new load time on
    an unchanged row) leaves it alone.

    Args:
        con: Open warehouse connection.
        schema: Schema name.
        table: Table name.
        columns: The columns the step reads (each must exist).

    Returns:
        ``<rows>:<hash sum>`` of the rows restricted to ``columns``, or None when the table does not exist.
    """
    if not table_exists(con, schema, table):
        return None
    return _rows_fingerprint(con, schema, table, columns)


def _rows_fingerprint(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, columns: list[str] | tuple[str, ...]
) -> str:
    picked = ", ".join(_ident(column) for column in columns)
    rows, total = con.execute(
        f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) "
        f"FROM (SELECT {picked} FROM {qualified(schema, table)}) AS t"
    ).fetchall()[0]
    return f"{rows}:{total}"


def fingerprint(*parts: object) -> str:
    """Combine the parts a step's result depends on into one fingerprint (SHA-256, hex).

    Args:
        parts: Table fingerprints, settings, file hashes; ``None`` counts as a part too.

    Returns:
        The fingerprint.
    """
    digest = hashlib.sha256()
    for part in parts:
        digest.update(json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def last_step_state(con: duckdb.DuckDBPyConnection, step: str) -> dict | None:
    """Return what a step recorded the last time it did its work, to skip it when nothing changed.

    Args:
        con: Open warehouse connection.
        step: The step's name (an asset or check name).

    Returns:
        ``fingerprint, run_id, recorded_at`` and ``payload`` (the dict the step saved), or None.
    """
    if not table_exists(con, PIPELINE_SCHEMA, _STEP_STATE):
        return None
    rows = con.execute(
        f"SELECT fingerprint, run_id, recorded_at, payload FROM {PIPELINE_SCHEMA}.{_STEP_STATE} WHERE step = ?",
        [step],
    ).fetchall()
    if not rows:
        return None
    found, run_id, recorded_at, payload = rows[0]
    return {
        "fingerprint": found,
        "run_id": run_id,
        "recorded_at": recorded_at,
        "payload": json.loads(payload),
    }


def save_step_state(
    con: duckdb.DuckDBPyConnection, step: str, step_fingerprint: str, run_id: str, payload: dict | None = None
) -> None:
    """Record that a step did its work on inputs with this fingerprint (replacing the last record).

    ``pipeline.step_fingerprints`` has one row per step: ``step, fingerprint, run_id, recorded_at,
    payload`` (JSON the step needs to report an unchanged result, e.g. a check's outcome).

    Args:
        con: Open warehouse connection.
        step: The step's name.
        step_fingerprint: ``fingerprint(...)`` of its inputs.
        run_id: The run that did the work.
        payload: What to hand back from ``last_step_state``.
    """
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {PIPELINE_SCHEMA}")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {PIPELINE_SCHEMA}.{_STEP_STATE} "
        "(step VARCHAR PRIMARY KEY, fingerprint VARCHAR, run_id VARCHAR, recorded_at TIMESTAMP, payload VARCHAR)"
    )
    con.execute(
        f"INSERT OR REPLACE INTO {PIPELINE_SCHEMA}.{_STEP_STATE} VALUES (?, ?, ?, ?, ?)",
        [
            step,
            step_fingerprint,
            run_id,
            datetime.now(UTC).replace(tzinfo=None),
            json.dumps(payload or {}, sort_keys=True, default=str),
        ],
    )
