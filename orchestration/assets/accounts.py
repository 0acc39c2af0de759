"""Accounts (B2B): companies resolved from CRM accounts and person records, with persistent ids."""

import dagster as dg

import identity
from connectors import warehouse
from orchestration.assets._metadata import table_metadata
from orchestration.assets.ingest import WAREHOUSE_POOL
from orchestration.resources import CdpSettings

_INPUTS = [
    ["identity", "customer_clusters"],
    ["intermediate", "int_person_records"],
    ["staging", "stg_crm__accounts"],
    ["staging", "stg_crm__contacts"],
]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key=["identity", "accounts"],
            group_name="identity",
            description="One row per resolved company (account), with its persistent account_id and CRM account ids.",
            deps=_INPUTS,
            kinds={"duckdb"},
        ),
        dg.AssetSpec(
            key=["identity", "customer_accounts"],
            group_name="identity",
            description="One row per customer attached to an account, with the rule that attached it.",
            deps=_INPUTS,
            kinds={"duckdb"},
        ),
    ],
    pool=WAREHOUSE_POOL,
)
def customer_accounts(context: dg.AssetExecutionContext, cdp: CdpSettings):
    """Resolve companies, carry account ids over from the last run and attach customers to them."""
    settings = cdp.load()
    with warehouse.connect(settings.warehouse_path) as con:
        previous_accounts = previous_customer_accounts = None
        if warehouse.table_exists(con, "identity", "accounts"):
            previous_accounts = warehouse.read_table(con, "identity", "accounts")
        if warehouse.table_exists(con, "identity", "customer_accounts"):
            previous_customer_accounts = warehouse.read_table(con, "identity", "customer_accounts")
        resolution = identity.resolve_accounts(
            records=con.execute(
                "SELECT record_id, email, company_name, country, crm_contact_id "
                "FROM intermediate.int_person_records"
            ).df(),
            clusters=con.execute("SELECT record_id, customer_id FROM identity.customer_clusters").df(),
            crm_accounts=con.execute(
                "SELECT crm_account_id, account_name, domain, country_code FROM staging.stg_crm__accounts"
            ).df(),
            crm_contacts=con.execute(
                "SELECT crm_contact_id, crm_account_id FROM staging.stg_crm__contacts"
            ).df(),
            previous_accounts=previous_accounts,
            previous_customer_accounts=previous_customer_accounts,
        )
        warehouse.replace_table(con, "identity", "accounts", resolution.accounts)
        warehouse.replace_table(con, "identity", "customer_accounts", resolution.customer_accounts)
    stats = resolution.stats
    context.log.info(
        f"{stats['crm_accounts']} CRM accounts → {stats['accounts']} accounts "
        f"({stats['prospect_accounts']} not in the CRM); {stats['customers_attached']} of "
        f"{stats['customers']} customers attached"
    )
    yield dg.MaterializeResult(
        asset_key=["identity", "accounts"], metadata={**table_metadata(resolution.accounts), **stats}
    )
    yield dg.MaterializeResult(
        asset_key=["identity", "customer_accounts"], metadata=table_metadata(resolution.customer_accounts)
    )
