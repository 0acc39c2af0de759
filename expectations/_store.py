"""Recording check outcomes in the warehouse, and reading earlier runs' figures back.

``quality.check_results`` holds one row per expectation per check run; stewards' reports and the
quality KPIs read it, so its columns are a contract. ``quality.check_failures`` names up to
``MAX_FAILING_KEYS`` failing rows per failed expectation (by key, so no personal data is copied).
"""

from datetime import date, datetime

import duckdb
import pandas as pd

from connectors import warehouse
from expectations._spec import SuiteSpec
from expectations._validate import (
    DEFAULT_MAX_VOLUME_CHANGE,
    VOLUME_EXPECTATION,
    ExpectationOutcome,
    SuiteOutcome,
    key_column,
    validate,
)

RESULTS_DDL = """
CREATE TABLE IF NOT EXISTS quality.check_results (
    run_id VARCHAR, checked_at TIMESTAMP, suite VARCHAR, table_schema VARCHAR, table_name VARCHAR,
    expectation VARCHAR, severity VARCHAR, blocking BOOLEAN, success BOOLEAN,
    unexpected_count BIGINT, observed VARCHAR, rows_validated BIGINT
)"""
RESULT_COLUMNS = [
    "run_id",
    "checked_at",
    "suite",
    "table_schema",
    "table_name",
    "expectation",
    "severity",
    "blocking",
    "success",
    "unexpected_count",
    "observed",
    "rows_validated",
]
FAILURE_COLUMNS = ["run_id", "suite", "expectation", "key_column", "key_value"]
FAILURES_DDL = """
CREATE TABLE IF NOT EXISTS quality.check_failures (
    run_id VARCHAR, suite VARCHAR, expectation VARCHAR, key_column VARCHAR, key_value VARCHAR
)"""


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ``quality`` schema and its results tables if missing.

    Args:
        con: Open warehouse connection.
    """
    con.execute("CREATE SCHEMA IF NOT EXISTS quality")
    con.execute(RESULTS_DDL)
    con.execute(FAILURES_DDL)


def previous_row_count(con: duckdb.DuckDBPyConnection, suite: str, run_id: str) -> int | None:
    """Rows the suite's table had at the latest other run whose volume check passed.

    A failed run is not a baseline: a sudden drop keeps failing until it is fixed or the
    tolerance (CDP_QUALITY_MAX_VOLUME_CHANGE) is raised for a run that accepts it.

    Args:
        con: Open warehouse connection.
        suite: Suite name.
        run_id: The current run, left out.

    Returns:
        The row count, or None when no earlier run passed.
    """
    if not warehouse.table_exists(con, "quality", "check_results"):
        return None
    rows = con.execute(
        "SELECT rows_validated FROM quality.check_results WHERE suite = ? AND expectation = ? "
        "AND success AND run_id <> ? ORDER BY checked_at DESC LIMIT 1",
        [suite, f"{VOLUME_EXPECTATION}()", run_id],
    ).fetchall()
    return rows[0][0] if rows else None


def record(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    spec: SuiteSpec,
    outcome: SuiteOutcome,
    checked_at: datetime | None = None,
) -> None:
    """Write a suite outcome to ``quality.check_results`` and its failing keys to ``quality.check_failures``.

    A check re-executed in the same run replaces its earlier rows.

    Args:
        con: Open warehouse connection.
        run_id: The Dagster run id.
        spec: The suite (its table and severity are recorded).
        outcome: What validation found.
        checked_at: When (default now, UTC).
    """
    ensure_tables(con)
    checked_at = checked_at or pd.Timestamp.now("UTC").tz_localize(None).floor("us").to_pydatetime()
    schema, table = spec.table
    results = pd.DataFrame(
        [
            {
                "run_id": run_id,
                "checked_at": checked_at,
                "suite": spec.name,
                "table_schema": schema,
                "table_name": table,
                "expectation": r.expectation,
                "severity": "error" if spec.blocking else "warn",
                "blocking": spec.blocking,
                "success": r.success,
                "unexpected_count": r.unexpected_count,
                "observed": f"error: {r.error}" if r.error else r.observed,
                "rows_validated": outcome.rows,
            }
            for r in outcome.results
        ],
        columns=RESULT_COLUMNS,
    ).astype({"unexpected_count": "Int64", "observed": "string"})
    failures = pd.DataFrame(
        [
            {
                "run_id": run_id,
                "suite": spec.name,
                "expectation": r.expectation,
                "key_column": key_column(spec),
                "key_value": value,
            }
            for r in outcome.failed
            for value in r.failing_keys
        ],
        columns=FAILURE_COLUMNS,
    ).astype("string")
    con.execute("BEGIN TRANSACTION")
    try:
        for name in ("check_results", "check_failures"):
            con.execute(f"DELETE FROM quality.{name} WHERE run_id = ? AND suite = ?", [run_id, spec.name])
        for name, frame in (("check_results", results), ("check_failures", failures)):
            con.register("_outcome", frame)
            try:
                con.execute(f"INSERT INTO quality.{name} BY NAME SELECT * FROM _outcome")
            finally:
                con.unregister("_outcome")
        con.execute("COMMIT")
    except duckdb.Error:
        con.execute("ROLLBACK")
        raise


def check_table(
    con: duckdb.DuckDBPyConnection,
    spec: SuiteSpec,
    *,
    run_id: str,
    as_of: date | None = None,
    max_volume_change: float = DEFAULT_MAX_VOLUME_CHANGE,
) -> SuiteOutcome:
    """Validate a warehouse table against its suite and record the outcome.

    Args:
        con: Open warehouse connection.
        spec: The suite.
        run_id: The Dagster run id the outcome is recorded under.
        as_of: The date freshness is measured from (default today).
        max_volume_change: Largest relative change in row count accepted since the last passing run.

    Returns:
        The suite outcome (a missing table fails the suite rather than raising).
    """
    schema, table = spec.table
    if warehouse.table_exists(con, schema, table):
        frame = warehouse.read_table(con, schema, table)
        outcome = validate(
            frame,
            spec,
            con=con,
            as_of=as_of,
            previous_rows=previous_row_count(con, spec.name, run_id),
            max_volume_change=max_volume_change,
        )
    else:
        missing = ExpectationOutcome(
            "expect_table_to_exist()", False, error=f"{schema}.{table} does not exist"
        )
        outcome = SuiteOutcome(suite=spec.name, success=False, rows=0, results=[missing])
    record(con, run_id, spec, outcome)
    return outcome
