"""Identity layer: person records resolved into customers with persistent ids."""

import dagster as dg

import identity
from connectors import warehouse
from orchestration.assets._metadata import table_metadata
from orchestration.assets.ingest import WAREHOUSE_POOL
from orchestration.resources import CdpSettings


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key=["identity", "customer_clusters"],
            group_name="identity",
            description="One row per source person record, with the persistent customer_id it resolved to.",
            deps=[["intermediate", "int_person_records"]],
            kinds={"splink", "duckdb"},
        ),
        dg.AssetSpec(
            key=["identity", "customer_links"],
            group_name="identity",
            description="One row per accepted link between two person records (rule or match probability).",
            deps=[["intermediate", "int_person_records"]],
            kinds={"splink", "duckdb"},
        ),
    ],
    pool=WAREHOUSE_POOL,
)
def customer_identity(context: dg.AssetExecutionContext, cdp: CdpSettings):
    """Link person records with the saved Splink model and carry customer ids over from the last run."""
    settings = cdp.load()
    with warehouse.connect(settings.warehouse_path) as con:
        records = warehouse.read_table(con, "intermediate", "int_person_records")
        previous = None
        if warehouse.table_exists(con, "identity", "customer_clusters"):
            previous = con.execute("SELECT record_id, customer_id FROM identity.customer_clusters").df()
        resolution = identity.resolve(
            records,
            previous=previous,
            model_path=settings.identity_model or identity.DEFAULT_MODEL_PATH,
            threshold=settings.identity_threshold,
        )
        warehouse.replace_table(con, "identity", "customer_clusters", resolution.clusters)
        warehouse.replace_table(con, "identity", "customer_links", resolution.links)
    stats = resolution.stats
    context.log.info(
        f"{stats['records']} records → {stats['customers']} customers; "
        f"{stats['records_keeping_previous_id']} of {stats['records_seen_before']} known records kept their id"
    )
    yield dg.MaterializeResult(
        asset_key=["identity", "customer_clusters"],
        metadata={**table_metadata(resolution.clusters), **stats},
    )
    yield dg.MaterializeResult(
        asset_key=["identity", "customer_links"], metadata=table_metadata(resolution.links)
    )
