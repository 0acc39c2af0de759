"""The pipeline job and its schedules."""

import dagster as dg

cdp_pipeline = dg.define_asset_job(
    name="cdp_pipeline",
    # Assets tagged manual (model training) change reviewed files and run only when someone asks.
    selection=dg.AssetSelection.all() - dg.AssetSelection.tag("cdp/trigger", "manual"),
    description="Ingest every source, resolve identities, build the marts, check them and sync the CRM.",
)

daily_refresh = dg.ScheduleDefinition(
    name="daily_refresh",
    job=cdp_pipeline,
    cron_schedule="0 5 * * *",
    execution_timezone="UTC",
    description="Full refresh every morning before sales opens the CRM.",
)

identity_full_reconcile = dg.ScheduleDefinition(
    name="identity_full_reconcile",
    job=cdp_pipeline,
    cron_schedule="0 3 * * 0",
    execution_timezone="UTC",
    tags={"cdp/identity_mode": "full", "cdp/quality_revalidate": "true"},
    description=(
        "Sunday night: the whole pipeline with identity re-resolving every record, so the week's "
        "incremental links are checked against a full clustering (customer ids carried by overlap), "
        "and every quality check validated again even where its inputs did not change."
    ),
)
