"""Health of the identity graph: how records group into customers, and whether that moved.

A model or blocking-rule change that suddenly merges (or splits) far more records than the last
good run is the classic identity incident: every mart and CRM sync downstream would carry it.
The check compares the merge rate with the latest run that passed and blocks past a set change.
"""

from dataclasses import dataclass, fields

import duckdb
import pandas as pd

from connectors import warehouse
from expectations._spec import SuiteSpec
from expectations._store import (
    code_version,
    outcome_from_payload,
    outcome_payload,
    record,
    step_name,
    unchanged_since,
)
from expectations._validate import ExpectationOutcome, SuiteOutcome

IDENTITY_HEALTH_SUITE = SuiteSpec(
    name="identity_graph_health",
    table=("identity", "customer_clusters"),
    blocking=True,
    expectations=(),
    description=(
        "Identity graph: cluster sizes, largest customer and share of records merged; blocks when "
        "the merge rate moves more than CDP_IDENTITY_MAX_MERGE_RATE_CHANGE since the last good run."
    ),
)
# The only columns the measurement reads, so the only ones its fingerprint covers.
_GRAPH_COLUMNS = ("record_id", "customer_id")
MERGE_RATE_EXPECTATION = "expect_merge_rate_to_stay_within_change_of_previous_run()"
DEFAULT_MAX_MERGE_RATE_CHANGE = 0.10
# Customers counted by how many records they were built from.
SIZE_BUCKETS = (
    (1, 1, "1"),
    (2, 2, "2"),
    (3, 5, "3-5"),
    (6, 10, "6-10"),
    (11, 20, "11-20"),
    (21, None, "21+"),
)
HISTORY_DDL = """
CREATE TABLE IF NOT EXISTS quality.identity_health_history (
    run_id VARCHAR, checked_at TIMESTAMP, records BIGINT, customers BIGINT, merged_records BIGINT,
    share_merged DOUBLE, merge_rate DOUBLE, largest_cluster BIGINT, passed BOOLEAN
)"""


@dataclass(frozen=True)
class IdentityHealth:
    """The identity graph's figures for one run.

    Attributes:
        records: Person records resolved.
        customers: Customers they resolved into.
        merged_records: Records sharing their customer with at least one other record.
        share_merged: ``merged_records / records``.
        merge_rate: ``1 - customers / records``: the share of records absorbed by a merge.
        largest_cluster: Records in the largest customer.
        size_distribution: Customers per cluster-size bucket (``SIZE_BUCKETS``).
        previous_merge_rate: The merge rate of the latest passing run, or None on the first run.
        outcome: The check's result, in the suites' shape.
    """

    records: int
    customers: int
    merged_records: int
    share_merged: float
    merge_rate: float
    largest_cluster: int
    size_distribution: dict[str, int]
    previous_merge_rate: float | None
    outcome: SuiteOutcome


def graph_health(
    clusters: pd.DataFrame,
    previous_merge_rate: float | None,
    max_change: float = DEFAULT_MAX_MERGE_RATE_CHANGE,
) -> IdentityHealth:
    """Measure the identity graph and judge the change in merge rate.

    Args:
        clusters: ``identity.customer_clusters`` (``record_id``, ``customer_id``).
        previous_merge_rate: Merge rate of the latest passing run, or None (then it passes).
        max_change: Largest absolute change in merge rate accepted (0.10 = 10 points).

    Returns:
        The figures and the outcome.
    """
    sizes = clusters.groupby("customer_id")["record_id"].size()
    records, customers = int(sizes.sum()), len(sizes)
    merged = int(sizes[sizes > 1].sum())
    rate = 1 - customers / records if records else 0.0
    distribution = {
        label: int(((sizes >= low) & (sizes <= (high or sizes.max()))).sum())
        for low, high, label in SIZE_BUCKETS
    }
    if previous_merge_rate is None:
        success = records > 0
        observed = f"merge rate {rate:.3f}; no earlier run to compare with"
    else:
        change = rate - previous_merge_rate
        success = records > 0 and abs(change) <= max_change
        observed = f"merge rate {rate:.3f}; previous {previous_merge_rate:.3f} ({change:+.3f}, allowed ±{max_change:.3f})"
    result = ExpectationOutcome(MERGE_RATE_EXPECTATION, success, observed=observed)
    return IdentityHealth(
        records=records,
        customers=customers,
        merged_records=merged,
        share_merged=merged / records if records else 0.0,
        merge_rate=rate,
        largest_cluster=int(sizes.max()) if customers else 0,
        size_distribution=distribution,
        previous_merge_rate=previous_merge_rate,
        outcome=SuiteOutcome(IDENTITY_HEALTH_SUITE.name, success, records, [result]),
    )


def _previous_merge_rate(con: duckdb.DuckDBPyConnection, run_id: str | None) -> float | None:
    """Merge rate of the latest passing run other than ``run_id`` (None: of any run)."""
    previous = con.execute(
        "SELECT merge_rate FROM quality.identity_health_history WHERE passed AND run_id IS DISTINCT FROM ? "
        "ORDER BY checked_at DESC LIMIT 1",
        [run_id],
    ).fetchall()
    return previous[0][0] if previous else None


def _figures(health: IdentityHealth) -> dict:
    """The figures of ``health`` besides its outcome, as saved with its fingerprint."""
    return {f.name: getattr(health, f.name) for f in fields(health) if f.name != "outcome"}


def check_identity_health(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    max_change: float = DEFAULT_MAX_MERGE_RATE_CHANGE,
    revalidate: bool = False,
) -> IdentityHealth:
    """Measure ``identity.customer_clusters``, compare with the last passing run, and record both.

    Appends one row to ``quality.identity_health_history`` (a re-executed check replaces its row)
    and the outcome to ``quality.check_results``. When the graph (record and customer ids), the
    tolerance, the merge-rate baseline (as the next run will see it) and the code are unchanged
    since the last measurement, the graph is not read again: that run's figures and outcome are
    carried over and recorded under this run.

    Args:
        con: Open warehouse connection.
        run_id: The Dagster run id.
        max_change: Largest absolute change in merge rate accepted.
        revalidate: Measure even when the inputs are unchanged since the last measurement.

    Returns:
        The figures and the outcome; ``outcome.carried_over_from`` names the run measured when it
        was not measured now.
    """
    con.execute("CREATE SCHEMA IF NOT EXISTS quality")
    con.execute(HISTORY_DDL)
    step = step_name(IDENTITY_HEALTH_SUITE.name)
    graph = warehouse.columns_fingerprint(con, *IDENTITY_HEALTH_SUITE.table, _GRAPH_COLUMNS)
    inputs = [graph, max_change, code_version()]
    previous = _previous_merge_rate(con, run_id)
    state = None
    if not revalidate:
        state = unchanged_since(con, step, run_id, warehouse.fingerprint(*inputs, previous))
    if state is not None:
        health = IdentityHealth(
            **state["payload"]["figures"],
            outcome=outcome_from_payload(state["payload"]["outcome"], carried_over_from=state["run_id"]),
        )
    else:
        columns = ", ".join(_GRAPH_COLUMNS)
        clusters = con.execute(
            f"SELECT {columns} FROM {warehouse.qualified(*IDENTITY_HEALTH_SUITE.table)}"
        ).df()
        health = graph_health(clusters, previous, max_change)
    checked_at = pd.Timestamp.now("UTC").tz_localize(None).floor("us").to_pydatetime()
    con.execute("DELETE FROM quality.identity_health_history WHERE run_id = ?", [run_id])
    con.execute(
        "INSERT INTO quality.identity_health_history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            checked_at,
            health.records,
            health.customers,
            health.merged_records,
            health.share_merged,
            health.merge_rate,
            health.largest_cluster,
            health.outcome.success,
        ],
    )
    record(con, run_id, IDENTITY_HEALTH_SUITE, health.outcome, checked_at)
    if state is None:
        payload = {"figures": _figures(health), "outcome": outcome_payload(health.outcome)}
        next_baseline = _previous_merge_rate(con, None)
        warehouse.save_step_state(con, step, warehouse.fingerprint(*inputs, next_baseline), run_id, payload)
    return health
