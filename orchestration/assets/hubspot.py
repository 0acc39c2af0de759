"""HubSpot as a source (raw_hubspot.*) and a destination (hubspot/contacts, audience lists).

The source assets always exist, so the dbt models that read them build in every environment:
without ``CDP_HUBSPOT_TOKEN`` they write empty tables with the usual columns and say so in their
metadata. The destination assets exist only when the token is set; they sit downstream of the
marts and audiences, so the marts' blocking checks gate them.
"""

import os
from collections.abc import Sequence
from datetime import UTC, datetime

import dagster as dg

from connectors import audiences, warehouse
from connectors.hubspot import (
    SOURCE_PROPERTIES,
    HubSpotClient,
    HubSpotDestination,
    empty_objects,
    read_objects,
    sync_hubspot,
    sync_list,
)
from connectors.sync import CircuitBreakerOpen, read_back
from orchestration.assets._metadata import table_metadata
from orchestration.assets.activation import (
    READ_BACK_SAMPLE,
    log_result,
    open_dead_letters,
    record_run,
    run_metadata,
)
from orchestration.assets.ingest import WAREHOUSE_POOL
from orchestration.resources import CdpSettings

CONTACT_FEED_SQL = """
    SELECT lower(dim.email) AS email, health.customer_id, health.health_score, health.health_tier,
           health.health_top_reason AS health_drivers
    FROM marts.customer_health AS health
    JOIN marts.dim_customers AS dim USING (customer_id)
    WHERE dim.email IS NOT NULL
"""
"""The HubSpot contact feed: one row per customer with an e-mail address, keyed by that address.

Customers who share an address (a shared mailbox kept apart by the identity guards) share a key;
the sync sends none of them and lists the address as a ``skip_conflict`` dead letter.
"""


def hubspot_enabled() -> bool:
    """Tell whether a HubSpot token is configured (the destination assets exist only then)."""
    return bool(os.environ.get("CDP_HUBSPOT_TOKEN", "").strip())


def _source_asset(object_type: str) -> dg.AssetsDefinition:
    singular = object_type[:-1]

    @dg.asset(
        key=["raw_hubspot", object_type],
        group_name="raw_hubspot",
        description=(
            f"One row per HubSpot {singular} as read from the CRM v3 API (text values); a full "
            f"snapshot each run, empty when CDP_HUBSPOT_TOKEN is not set."
        ),
        kinds={"hubspot", "duckdb"},
        pool=WAREHOUSE_POOL,
    )
    def _read(context: dg.AssetExecutionContext, cdp: CdpSettings) -> dg.MaterializeResult:
        properties = SOURCE_PROPERTIES[object_type]
        configured = hubspot_enabled()
        if configured:
            client = HubSpotClient()
            try:
                frame = read_objects(client, object_type, properties)
            finally:
                client.close()
        else:
            frame = empty_objects(properties)
            context.log.info(f"CDP_HUBSPOT_TOKEN is not set: raw_hubspot.{object_type} is written empty")
        with warehouse.connect(cdp.load().warehouse_path) as con:
            warehouse.replace_table(con, "raw_hubspot", object_type, frame)
        context.log.info(f"raw_hubspot.{object_type}: {len(frame)} rows")
        return dg.MaterializeResult(
            metadata={
                **table_metadata(frame),
                "source": dg.MetadataValue.text("HubSpot CRM v3" if configured else "not configured"),
            }
        )

    return _read


hubspot_source_assets = [_source_asset("contacts"), _source_asset("companies")]
"""``raw_hubspot.contacts`` and ``raw_hubspot.companies``; defined with or without a token."""


@dg.asset(
    key=["hubspot", "contacts"],
    group_name="hubspot",
    description=(
        "One row per HubSpot contact matched by email: CDP customer id, health score, tier and drivers "
        "as custom properties; only new or changed values are sent, and an address several customers "
        "share is not sent (listed in sync.dead_letters as skip_conflict)."
    ),
    deps=[["marts", "customer_health"], ["marts", "dim_customers"]],
    kinds={"hubspot"},
    pool=WAREHOUSE_POOL,
)
def hubspot_contacts(context: dg.AssetExecutionContext, cdp: CdpSettings) -> dg.MaterializeResult:
    """Sync health fields onto HubSpot contacts through the sync engine."""
    settings = cdp.load()
    started_at = datetime.now(UTC).replace(tzinfo=None)
    client = HubSpotClient()
    try:
        with warehouse.connect(settings.warehouse_path) as con:
            feed = con.execute(CONTACT_FEED_SQL).df()
            try:
                result = sync_hubspot(feed, client, con, settings.sync_policy(), run_id=context.run_id)
            except CircuitBreakerOpen as exc:
                raise dg.Failure(str(exc)) from None
            record_run(con, result, started_at)
            dead = open_dead_letters(con, result.destination)
    finally:
        client.close()
    log_result(context, result)
    return dg.MaterializeResult(
        metadata={**run_metadata(result, dead), "api_calls": sum(client.calls.values())}
    )


@dg.asset_check(
    asset=dg.AssetKey(["hubspot", "contacts"]),
    name="hubspot_read_back",
    description=f"Reads {READ_BACK_SAMPLE} synced contacts back from HubSpot and compares them with what was confirmed.",
    pool=WAREHOUSE_POOL,
)
def hubspot_read_back(context: dg.AssetCheckExecutionContext, cdp: CdpSettings) -> dg.AssetCheckResult:
    """Sample confirmed contacts, read them from HubSpot, and report any property that differs."""
    client = HubSpotClient()
    try:
        with warehouse.connect(cdp.load().warehouse_path) as con:
            checked, problems = read_back(HubSpotDestination(client), con, sample=READ_BACK_SAMPLE)
    finally:
        client.close()
    for problem in problems[:10]:
        context.log.warning(problem)
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"checked": checked, "mismatches": len(problems)},
    )


def audience_list_assets(names: Sequence[str]) -> list[dg.AssetsDefinition]:
    """Build one asset per audience that mirrors ``audiences.<name>`` into a manual HubSpot list.

    Consent and suppression are already applied when the audience is built; a dry run
    (``CDP_SYNC_DRY_RUN``) reports the additions and removals and sends nothing.

    Args:
        names: Audience table names in the ``audiences`` schema (columns include ``email``).

    Returns:
        Assets keyed ``["hubspot", "list_<name>"]``, each adding and removing only the difference.
    """

    def build(name: str) -> dg.AssetsDefinition:
        @dg.asset(
            key=["hubspot", f"list_{name}"],
            group_name="hubspot",
            description=(
                f"One row per member of audience {name} found as a HubSpot contact, held as a membership "
                f"of the manual list 'CDP {name}'; only additions and removals are sent."
            ),
            # After the contact sync, which upserts every customer with an address as a contact,
            # so this run's new members are found the same run.
            deps=[[audiences.SCHEMA, name], ["hubspot", "contacts"]],
            kinds={"hubspot"},
            pool=WAREHOUSE_POOL,
        )
        def _list(context: dg.AssetExecutionContext, cdp: CdpSettings) -> dg.MaterializeResult:
            settings = cdp.load()
            with warehouse.connect(settings.warehouse_path) as con:
                members = warehouse.read_table(con, audiences.SCHEMA, name)
            client = HubSpotClient()
            try:
                result = sync_list(client, f"CDP {name}", members, dry_run=settings.sync_dry_run)
            finally:
                client.close()
            context.log.info(
                f"list {result.list_name}: {result.added} added, {result.removed} removed, "
                f"{result.unmatched} members without a HubSpot contact"
                + (" (dry run: planned only, nothing sent)" if result.dry_run else "")
            )
            return dg.MaterializeResult(
                metadata={
                    "dry_run": result.dry_run,
                    "list_id": result.list_id,
                    "members": result.members,
                    "matched": result.matched,
                    "added": result.added,
                    "removed": result.removed,
                    "unmatched": result.unmatched,
                }
            )

        return _list

    return [build(name) for name in names]


def hubspot_assets() -> list[dg.AssetsDefinition]:
    """The HubSpot destination assets (contact fields, one list per audience), or none without a token."""
    if not hubspot_enabled():
        return []
    return [hubspot_contacts, *audience_list_assets([a.name for a in audiences.load_audiences()])]


def hubspot_checks() -> list[dg.AssetChecksDefinition]:
    """The HubSpot read-back check, or none when no token is configured."""
    return [hubspot_read_back] if hubspot_enabled() else []
