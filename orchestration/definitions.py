"""The one Definitions object: assets by layer, quality checks, the pipeline job, schedule and sensor."""

import dagster as dg

from orchestration.assets.accounts import customer_accounts
from orchestration.assets.activation import crm_contact_fields, crm_read_back
from orchestration.assets.audiences import audience_tables
from orchestration.assets.dbt import dbt_mart_models, dbt_resource, dbt_staging_models, new_alert_checks
from orchestration.assets.hubspot import hubspot_assets, hubspot_checks, hubspot_source_assets
from orchestration.assets.identity import customer_identity, person_model
from orchestration.assets.ingest import crm_tables, file_assets
from orchestration.assets.quality import quality_assets
from orchestration.checks import gx_checks
from orchestration.jobs import cdp_pipeline, daily_refresh, identity_full_reconcile
from orchestration.resources import CdpSettings
from orchestration.sensors import landing_files_sensor


def build_definitions(extra_jobs: list | None = None) -> dg.Definitions:
    """Assemble the project's Definitions.

    Args:
        extra_jobs: Jobs offered besides the pipeline job (the CLI adds one for a selection).

    Returns:
        The definitions ``dagster dev`` and the CLI load.
    """
    return dg.Definitions(
        assets=[
            crm_tables,
            *file_assets,
            *hubspot_source_assets,
            dbt_staging_models,
            customer_identity,
            person_model,
            customer_accounts,
            dbt_mart_models,
            audience_tables,
            crm_contact_fields,
            *hubspot_assets(),
            *quality_assets,
        ],
        asset_checks=[*gx_checks, crm_read_back, *hubspot_checks(), new_alert_checks],
        jobs=[cdp_pipeline, *(extra_jobs or [])],
        schedules=[daily_refresh, identity_full_reconcile],
        sensors=[landing_files_sensor],
        resources={"cdp": CdpSettings(), "dbt": dbt_resource()},
    )


defs = build_definitions()
