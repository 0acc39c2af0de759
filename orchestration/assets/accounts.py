"""Accounts (B2B): companies resolved from CRM accounts and person records, with persistent ids.

The resolution runs only when something it depends on changed since its last run: the columns it
reads from its four input tables, the account tables it carries ids over from (as it left them),
or its code. Otherwise both tables stay as they are (so every account id stays) and the
materializations say so.
"""

import inspect
from pathlib import Path

import dagster as dg
import pandas as pd

import identity
from connectors import warehouse
from orchestration.assets._metadata import stored_table_metadata, table_metadata
from orchestration.assets.identity import IDENTITY_MODE_TAG
from orchestration.assets.ingest import WAREHOUSE_POOL
from orchestration.resources import CdpSettings

# What the resolution reads, by argument. Only these columns are fingerprinted, so a new load time
# on unchanged CRM rows does not resolve every account again.
_READS = {
    "records": (
        "intermediate",
        "int_person_records",
        ("record_id", "email", "company_name", "country", "crm_contact_id"),
    ),
    "clusters": ("identity", "customer_clusters", ("record_id", "customer_id")),
    "crm_accounts": (
        "staging",
        "stg_crm__accounts",
        ("crm_account_id", "account_name", "domain", "country_code"),
    ),
    "crm_contacts": ("staging", "stg_crm__contacts", ("crm_contact_id", "crm_account_id")),
}
_INPUTS = [[schema, table] for schema, table, _ in _READS.values()]
_OUTPUTS = ("accounts", "customer_accounts")
ACCOUNTS_STEP = "asset:identity/customer_accounts"
# Functions whose modules decide the accounts (resolution, id carry-over, email normalising).
_RESOLUTION_CODE = (identity.resolve_accounts, identity.assign_customer_ids, identity.normalise_records)


def _code_version() -> str:
    return warehouse.fingerprint(
        *(Path(inspect.getsourcefile(function)).read_text(encoding="utf-8") for function in _RESOLUTION_CODE)
    )


def _read(con, schema: str, table: str, columns: tuple[str, ...]) -> pd.DataFrame:
    return con.execute(f"SELECT {', '.join(columns)} FROM {warehouse.qualified(schema, table)}").df()


def _inputs_fingerprint(con, inputs: list[str | None], code: str) -> str:
    """The inputs with the account tables as they are now: the last run's ids are an input too."""
    outputs = [warehouse.table_fingerprint(con, "identity", table) for table in _OUTPUTS]
    return warehouse.fingerprint(inputs, outputs, code)


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
    """Resolve companies, carry account ids over from the last run and attach customers to them,
    unless nothing changed since the last resolution."""
    settings = cdp.load()
    full = context.run.tags.get(IDENTITY_MODE_TAG, settings.identity_mode) == "full"
    with warehouse.connect(settings.warehouse_path) as con:
        inputs = [warehouse.columns_fingerprint(con, *read) for read in _READS.values()]
        code = _code_version()
        last = warehouse.last_step_state(con, ACCOUNTS_STEP)
        if not full and last is not None and last["fingerprint"] == _inputs_fingerprint(con, inputs, code):
            context.log.info(f"accounts unchanged since run {last['run_id']}: inputs and code are the same")
            unchanged = {"recomputed": False, "unchanged_since_run": last["run_id"]}
            stored = {table: stored_table_metadata(con, "identity", table) for table in _OUTPUTS}
            yield dg.MaterializeResult(
                asset_key=["identity", "accounts"],
                metadata={**stored["accounts"], **last["payload"], **unchanged},
            )
            yield dg.MaterializeResult(
                asset_key=["identity", "customer_accounts"],
                metadata={**stored["customer_accounts"], **unchanged},
            )
            return
        previous_accounts = previous_customer_accounts = None
        if warehouse.table_exists(con, "identity", "accounts"):
            previous_accounts = warehouse.read_table(con, "identity", "accounts")
        if warehouse.table_exists(con, "identity", "customer_accounts"):
            previous_customer_accounts = warehouse.read_table(con, "identity", "customer_accounts")
        resolution = identity.resolve_accounts(
            **{argument: _read(con, *read) for argument, read in _READS.items()},
            previous_accounts=previous_accounts,
            previous_customer_accounts=previous_customer_accounts,
        )
        warehouse.replace_table(con, "identity", "accounts", resolution.accounts)
        warehouse.replace_table(con, "identity", "customer_accounts", resolution.customer_accounts)
        warehouse.save_step_state(
            con, ACCOUNTS_STEP, _inputs_fingerprint(con, inputs, code), context.run_id, resolution.stats
        )
    stats = resolution.stats
    context.log.info(
        f"{stats['crm_accounts']} CRM accounts → {stats['accounts']} accounts "
        f"({stats['prospect_accounts']} not in the CRM); {stats['customers_attached']} of "
        f"{stats['customers']} customers attached"
    )
    yield dg.MaterializeResult(
        asset_key=["identity", "accounts"],
        metadata={**table_metadata(resolution.accounts), **stats, "recomputed": True},
    )
    yield dg.MaterializeResult(
        asset_key=["identity", "customer_accounts"],
        metadata={**table_metadata(resolution.customer_accounts), "recomputed": True},
    )
