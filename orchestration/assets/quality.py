"""Quality layer: KPIs per source and layer after every run, and the steward's offline report."""

import time
from datetime import UTC, datetime, timedelta

import dagster as dg

from connectors import warehouse
from expectations import _kpis, _report
from orchestration.assets.ingest import WAREHOUSE_POOL
from orchestration.resources import CdpSettings


def reference_time(as_of_date: str) -> datetime:
    """Return the time freshness is measured against: the end of the as-of day, or now.

    Args:
        as_of_date: ``YYYY-MM-DD`` or "" for today.

    Returns:
        A naive UTC datetime.
    """
    if as_of_date:
        return datetime.fromisoformat(as_of_date) + timedelta(days=1)
    return datetime.now(UTC).replace(tzinfo=None)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key=["quality", "kpi_history"],
            group_name="quality",
            description="One row per run, KPI and table (completeness, validity, uniqueness, freshness, "
            "consistency, attribution carry-through) with target and pass/fail; appended every run.",
            deps=[
                ["marts", "dim_customers"],
                ["marts", "fct_touchpoints"],
                ["identity", "customer_clusters"],
                ["intermediate", "int_person_records"],
            ],
            kinds={"duckdb"},
        ),
        dg.AssetSpec(
            key=["quality", "kpis"],
            group_name="quality",
            description="One row per KPI and table as measured by the latest run.",
            deps=[["quality", "kpi_history"]],
            kinds={"duckdb"},
        ),
    ],
    pool=WAREHOUSE_POOL,
)
def quality_kpis(context: dg.AssetExecutionContext, cdp: CdpSettings):
    """Measure the quality KPIs on the warehouse, append them to the history and keep the latest."""
    settings = cdp.load()
    started = time.monotonic()
    with warehouse.connect(settings.warehouse_path) as con:
        frame = _kpis.compute_kpis(con, context.run_id, reference_time(settings.as_of_date))
        warehouse.append_rows(con, "quality", "kpi_history", frame)
        warehouse.replace_table(con, "quality", "kpis", frame)
        runs = con.execute("SELECT count(DISTINCT run_id) FROM quality.kpi_history").fetchall()[0][0]
    failed = frame[~frame["passed"].astype(bool)]
    context.log.info(
        f"{len(frame)} KPIs measured in {time.monotonic() - started:.2f}s; {len(failed)} off target"
    )
    off_target = (
        failed[["table", "kpi", "value", "target"]].to_markdown(index=False) if len(failed) else "(none)"
    )
    yield dg.MaterializeResult(
        asset_key=["quality", "kpi_history"],
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(frame)),
            "runs_measured": dg.MetadataValue.int(runs),
        },
    )
    yield dg.MaterializeResult(
        asset_key=["quality", "kpis"],
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(frame)),
            "off_target": dg.MetadataValue.int(len(failed)),
            "off_target_kpis": dg.MetadataValue.md(off_target),
        },
    )


@dg.asset(
    key=["quality", "steward_report"],
    group_name="quality",
    description="One row per report page (offline HTML in reports/quality/): index.html with every suite's "
    "latest status, top failing rules, quarantine by source and rule, schema drift and KPI trends, and "
    "one validation page per suite in suites/ with its expectations, failing keys and history.",
    deps=[["quality", "kpis"]],
    kinds={"html"},
    pool=WAREHOUSE_POOL,
)
def steward_report(context: dg.AssetExecutionContext, cdp: CdpSettings) -> dg.MaterializeResult:
    """Write the data steward's offline HTML report next to the warehouse."""
    settings = cdp.load()
    started = time.monotonic()
    with warehouse.connect(settings.warehouse_path) as con:
        written = _report.write_report(con, settings.report_dir("quality"))
    context.log.info(
        f"steward report written in {time.monotonic() - started:.2f}s: "
        f"summary and {len(written.suite_pages)} suite page(s)"
    )
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.path(str(written.index)),
            "suite_pages": dg.MetadataValue.int(len(written.suite_pages)),
        }
    )


quality_assets = [quality_kpis, steward_report]
