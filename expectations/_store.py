"""Recording check outcomes in the warehouse, reading earlier runs' figures back, and skipping a
validation whose inputs did not change.

``quality.check_results`` holds one row per expectation per check run; stewards' reports and the
quality KPIs read it, so its columns are a contract. ``quality.check_failures`` names up to
``MAX_FAILING_KEYS`` failing rows per failed expectation (by key, so no personal data is copied).

A check whose inputs have the fingerprint saved after its last validation (the table's content and
columns, the key column of every referenced table, the suite, the as-of date, the tolerance, the
volume baseline and this code) is not validated again: its outcome is carried over. It is still
recorded under the current run, so every run has a row per expectation and the history stays
continuous, with ``observed`` ending in ``[carried over from run <id>: inputs unchanged]`` and the
failing keys copied from that run.
"""

from datetime import date, datetime
from functools import cache
from importlib import metadata
from pathlib import Path

import duckdb
import pandas as pd

from connectors import warehouse
from expectations._spec import Reference, SuiteSpec
from expectations._validate import (
    DEFAULT_MAX_VOLUME_CHANGE,
    VOLUME_EXPECTATION,
    ExpectationOutcome,
    SuiteOutcome,
    key_column,
    validate,
    validation_inputs,
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
CARRIED_OVER_NOTE = "[carried over from run {run_id}: inputs unchanged]"
# Modules whose code decides an outcome or its baseline; the suites count through their repr.
_OUTCOME_MODULES = ("_spec.py", "_validate.py", "_store.py", "_identity_health.py")


@cache
def code_version() -> str:
    """Digest of the code that decides check outcomes, so a changed rule or GX release re-validates.

    Returns:
        A fingerprint of the GX version and the validating modules' source.
    """
    here = Path(__file__).parent
    sources = ((here / name).read_text(encoding="utf-8") for name in _OUTCOME_MODULES)
    return warehouse.fingerprint(metadata.version("great_expectations"), *sources)


def reference_state(con: duckdb.DuckDBPyConnection, ref: Reference) -> list | None:
    """Fingerprint what a reference check reads of the referenced table: its key column.

    Only the key values decide which rows are orphans, so a change to other columns (a new load
    time on the CRM's accounts) does not re-validate every table pointing at them.

    Args:
        con: Open warehouse connection.
        ref: The reference.

    Returns:
        ``[key column fingerprint, its type]``; the whole table's ``warehouse.table_fingerprint``
        (content, column names and types) when the key column is missing (the check then reports
        an error); None when the table does not exist.
    """
    schema, table = ref.table
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
    )
    if ref.target_column not in types:
        return warehouse.table_fingerprint(con, schema, table)
    return [warehouse.columns_fingerprint(con, schema, table, [ref.target_column]), types[ref.target_column]]


def step_name(suite: str) -> str:
    """Name a suite's row in ``pipeline.step_fingerprints``.

    Args:
        suite: Suite name.

    Returns:
        ``check:<suite>``.
    """
    return f"check:{suite}"


def unchanged_since(
    con: duckdb.DuckDBPyConnection, step: str, run_id: str, step_fingerprint: str
) -> dict | None:
    """Return the step's saved state when another run did its work on inputs with this fingerprint.

    A check executed again within the run that validated it validates again (a deliberate retry).

    Args:
        con: Open warehouse connection.
        step: The step's name.
        run_id: The current run.
        step_fingerprint: The fingerprint of the step's inputs now.

    Returns:
        ``warehouse.last_step_state``'s record, or None when the work must be done.
    """
    state = warehouse.last_step_state(con, step)
    if state is None or state["fingerprint"] != step_fingerprint or state["run_id"] == run_id:
        return None
    return state


def outcome_payload(outcome: SuiteOutcome) -> dict:
    """Turn an outcome into the JSON saved with its fingerprint.

    Offending values (``sample``) are left out, since they may be personal data; failing keys are
    already in ``quality.check_failures``.

    Args:
        outcome: A validated outcome.

    Returns:
        ``suite, success, rows`` and ``results`` (``expectation, success, unexpected_count,
        observed, error`` each).
    """
    return {
        "suite": outcome.suite,
        "success": outcome.success,
        "rows": int(outcome.rows),
        "results": [
            {
                "expectation": r.expectation,
                "success": bool(r.success),
                "unexpected_count": None if r.unexpected_count is None else int(r.unexpected_count),
                "observed": r.observed,
                "error": r.error,
            }
            for r in outcome.results
        ],
    }


def outcome_from_payload(payload: dict, carried_over_from: str) -> SuiteOutcome:
    """Rebuild an outcome saved by ``outcome_payload``, marked as carried over.

    Args:
        payload: What ``outcome_payload`` returned.
        carried_over_from: The run that validated it.

    Returns:
        The same outcome, with ``carried_over_from`` set.
    """
    return SuiteOutcome(
        suite=payload["suite"],
        success=payload["success"],
        rows=payload["rows"],
        results=[ExpectationOutcome(**result) for result in payload["results"]],
        carried_over_from=carried_over_from,
    )


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ``quality`` schema and its results tables if missing.

    Args:
        con: Open warehouse connection.
    """
    con.execute("CREATE SCHEMA IF NOT EXISTS quality")
    con.execute(RESULTS_DDL)
    con.execute(FAILURES_DDL)


def previous_row_count(con: duckdb.DuckDBPyConnection, suite: str, run_id: str | None) -> int | None:
    """Rows the suite's table had at the latest other run whose volume check passed.

    A failed run is not a baseline: a sudden drop keeps failing until it is fixed or the
    tolerance (CDP_QUALITY_MAX_VOLUME_CHANGE) is raised for a run that accepts it.

    Args:
        con: Open warehouse connection.
        suite: Suite name.
        run_id: The current run, left out; None counts every run (the baseline a next run sees).

    Returns:
        The row count, or None when no earlier run passed.
    """
    if not warehouse.table_exists(con, "quality", "check_results"):
        return None
    rows = con.execute(
        "SELECT rows_validated FROM quality.check_results WHERE suite = ? AND expectation = ? "
        "AND success AND run_id IS DISTINCT FROM ? ORDER BY checked_at DESC LIMIT 1",
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

    A check re-executed in the same run replaces its earlier rows. A carried-over outcome gets
    ``CARRIED_OVER_NOTE`` at the end of each ``observed`` and the failing keys of the run that
    validated it.

    Args:
        con: Open warehouse connection.
        run_id: The Dagster run id.
        spec: The suite (its table and severity are recorded).
        outcome: What validation found, or an outcome carried over from another run.
        checked_at: When (default now, UTC).

    Raises:
        ValueError: The outcome is carried over from this same run (its rows are already there).
    """
    source = outcome.carried_over_from
    if source == run_id:
        raise ValueError(f"suite {spec.name}: run {run_id} cannot carry its own outcome over")
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
                "observed": _observed(r, source),
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
        if source is not None:
            con.execute(
                "INSERT INTO quality.check_failures SELECT ?, suite, expectation, key_column, key_value "
                "FROM quality.check_failures WHERE run_id = ? AND suite = ?",
                [run_id, source, spec.name],
            )
        con.execute("COMMIT")
    except duckdb.Error:
        con.execute("ROLLBACK")
        raise


def _observed(result: ExpectationOutcome, carried_over_from: str | None) -> str | None:
    text = f"error: {result.error}" if result.error else result.observed
    if carried_over_from is None:
        return text
    note = CARRIED_OVER_NOTE.format(run_id=carried_over_from)
    return f"{text} {note}" if text else note


def check_table(
    con: duckdb.DuckDBPyConnection,
    spec: SuiteSpec,
    *,
    run_id: str,
    as_of: date | None = None,
    max_volume_change: float = DEFAULT_MAX_VOLUME_CHANGE,
    revalidate: bool = False,
) -> SuiteOutcome:
    """Validate a warehouse table against its suite unless its inputs are unchanged; record the outcome.

    The volume baseline is part of the fingerprint as the next run will see it, i.e. after this
    run's rows are recorded: a passing table that stays the same compares with itself next time, so
    an unchanged second run is carried over, and an outcome whose baseline was edited is not.

    Args:
        con: Open warehouse connection.
        spec: The suite.
        run_id: The Dagster run id the outcome is recorded under.
        as_of: The date freshness is measured from (default today).
        max_volume_change: Largest relative change in row count accepted since the last passing run.
        revalidate: Validate even when the inputs are unchanged since the last validation.

    Returns:
        The suite outcome (a missing table fails the suite rather than raising); its
        ``carried_over_from`` names the run it repeats when it was not validated now.
    """
    as_of = as_of or date.today()
    schema, table = spec.table
    step = step_name(spec.name)
    inputs = [
        warehouse.table_fingerprint(con, schema, table),
        [reference_state(con, ref) for ref in spec.references],
        validation_inputs(spec, as_of, max_volume_change),
        code_version(),
    ]

    def baseline(excluded_run: str | None) -> int | None:
        return previous_row_count(con, spec.name, excluded_run) if spec.volume else None

    previous_rows = baseline(run_id)
    state = None
    if not revalidate:
        state = unchanged_since(con, step, run_id, warehouse.fingerprint(*inputs, previous_rows))
    if state is not None:
        outcome = outcome_from_payload(state["payload"], carried_over_from=state["run_id"])
        record(con, run_id, spec, outcome)
        return outcome
    if warehouse.table_exists(con, schema, table):
        frame = warehouse.read_table(con, schema, table)
        outcome = validate(
            frame,
            spec,
            con=con,
            as_of=as_of,
            previous_rows=previous_rows,
            max_volume_change=max_volume_change,
        )
    else:
        missing = ExpectationOutcome(
            "expect_table_to_exist()", False, error=f"{schema}.{table} does not exist"
        )
        outcome = SuiteOutcome(suite=spec.name, success=False, rows=0, results=[missing])
    record(con, run_id, spec, outcome)
    warehouse.save_step_state(
        con, step, warehouse.fingerprint(*inputs, baseline(None)), run_id, outcome_payload(outcome)
    )
    return outcome
