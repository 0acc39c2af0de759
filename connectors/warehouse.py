"""Writing DataFrames into the DuckDB warehouse.

DuckDB is single-writer: callers open one connection with ``with duckdb.connect(path) as con`` and
pass it in; nothing here keeps a connection.
"""

import re
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
]


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


def connect(path: str | Path) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, creating its folder on first use.

    Args:
        path: The DuckDB file.

    Returns:
        A connection; use it as a context manager so it is closed.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(path))


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
    con: duckdb.DuckDBPyConnection, source_schema: str, source_table: str, rejects: pd.DataFrame
) -> int:
    """Replace the quarantine table of one raw table with this run's rejected rows.

    The quarantine table is ``quarantine.<schema>__<table>`` and always exists after a load, empty
    when nothing was rejected, so stewards and checks can rely on it.

    Args:
        con: Open warehouse connection.
        source_schema: Schema of the raw table the rows were meant for.
        source_table: The raw table.
        rejects: Rows with the ``QUARANTINE_COLUMNS``.

    Returns:
        The number of quarantined rows.
    """
    frame = rejects.reindex(columns=QUARANTINE_COLUMNS)
    frame = frame.astype(
        {
            "source_file": "string",
            "source_line": "Int64",
            "record_key": "string",
            "field": "string",
            "rule": "string",
            "reason": "string",
            "raw_value": "string",
            "run_id": "string",
            "quarantined_at": "datetime64[us]",
        }
    )
    return replace_table(con, "quarantine", f"{source_schema}__{source_table}", frame)
