"""Activation layer: health scores and customer ids written back into the CRM."""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from connectors import warehouse
from connectors.sync import sync_sql_crm
from orchestration.assets.ingest import WAREHOUSE_POOL
from orchestration.resources import CdpSettings


def _record_run(con, result, started_at: datetime) -> None:
    frame = pd.DataFrame(
        [
            {
                "run_id": result.run_id,
                "destination": result.destination,
                "started_at": started_at,
                "considered": result.considered,
                "unchanged": result.unchanged,
                "inserted": result.inserted,
                "updated": result.updated,
                "failed": result.failed,
                "duration_s": result.duration_s,
            }
        ]
    )
    if warehouse.table_exists(con, "sync", "sync_runs"):
        con.register("_run", frame)
        try:
            con.execute("INSERT INTO sync.sync_runs BY NAME SELECT * FROM _run")
        finally:
            con.unregister("_run")
    else:
        warehouse.replace_table(con, "sync", "sync_runs", frame)


@dg.asset(
    key=["crm", "contact_health_fields"],
    group_name="crm",
    description=(
        "One row per CRM contact in the CRM's custom-fields table (or columns): customer_id, "
        "health score, tier and top reason; only new or changed values are written."
    ),
    deps=[["marts", "crm_contact_scores"]],
    kinds={"sqlalchemy"},
    pool=WAREHOUSE_POOL,
)
def crm_contact_fields(context: dg.AssetExecutionContext, cdp: CdpSettings) -> dg.MaterializeResult:
    """Reverse-sync the contact scores into the CRM database, diff-based and idempotent."""
    settings = cdp.load()
    target = settings.sync_target()
    started_at = datetime.now(UTC).replace(tzinfo=None)
    with warehouse.connect(settings.warehouse_path) as con:
        scores = con.execute(
            "SELECT crm_contact_id AS contact_id, customer_id, health_score, health_tier, health_top_reason "
            "FROM marts.crm_contact_scores"
        ).df()
        result = sync_sql_crm(scores, target, con, run_id=context.run_id)
        _record_run(con, result, started_at)
    context.log.info(
        f"{result.destination}: {result.inserted} inserted, {result.updated} updated, "
        f"{result.unchanged} unchanged, {result.failed} failed"
    )
    for error in result.errors:
        context.log.warning(f"sync error: {error}")
    return dg.MaterializeResult(
        metadata={
            "destination": result.destination,
            "considered": result.considered,
            "inserted": result.inserted,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "failed": result.failed,
            "duration_s": round(result.duration_s, 2),
        }
    )
