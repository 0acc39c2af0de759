"""Identity layer: person records resolved into customers with persistent ids."""

import dagster as dg
import pandas as pd

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
        dg.AssetSpec(
            key=["identity", "customer_id_history"],
            group_name="identity",
            description="One row per customer id created, merged, split or reassigned, with run, time and reason.",
            deps=[["intermediate", "int_person_records"]],
            kinds={"duckdb"},
        ),
        dg.AssetSpec(
            key=["identity", "customer_match_explanations"],
            group_name="identity",
            description="One row per source person record: the rule or match weight and comparison levels that joined it.",
            deps=[["intermediate", "int_person_records"]],
            kinds={"duckdb"},
        ),
        dg.AssetSpec(
            key=["identity", "crm_duplicate_contacts"],
            group_name="identity",
            description="One row per CRM contact whose customer holds more than one CRM contact (for the CRM owner).",
            deps=[["intermediate", "int_person_records"]],
            kinds={"duckdb"},
        ),
    ],
    pool=WAREHOUSE_POOL,
)
def customer_identity(context: dg.AssetExecutionContext, cdp: CdpSettings):
    """Link person records with the saved model and steward overrides; carry customer ids over from the last run."""
    settings = cdp.load()
    overrides = identity.load_overrides(settings.identity_overrides)
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
            overrides=overrides,
            run_id=context.run_id,
        )
        history = resolution.history
        if warehouse.table_exists(con, "identity", "customer_id_history"):
            earlier = warehouse.read_table(con, "identity", "customer_id_history")
            history = pd.concat([earlier, history], ignore_index=True) if len(history) else earlier
        warehouse.replace_table(con, "identity", "customer_clusters", resolution.clusters)
        warehouse.replace_table(con, "identity", "customer_links", resolution.links)
        warehouse.replace_table(con, "identity", "customer_id_history", history)
        duplicates = identity.crm_duplicates(resolution.clusters)
        explanations = identity.match_explanations(resolution.clusters, resolution.links)
        warehouse.replace_table(con, "identity", "customer_match_explanations", explanations)
        warehouse.replace_table(con, "identity", "crm_duplicate_contacts", duplicates)
    reports = identity.write_dashboards(
        records,
        resolution.clusters,
        settings.warehouse_path.parent / "reports" / "identity",
        model_path=settings.identity_model or identity.DEFAULT_MODEL_PATH,
        threshold=settings.identity_threshold,
    )
    stats = resolution.stats
    context.log.info(
        f"{stats['records']} records → {stats['customers']} customers; "
        f"{stats['records_keeping_previous_id']} of {stats['records_seen_before']} known records kept their id"
    )
    yield dg.MaterializeResult(
        asset_key=["identity", "customer_clusters"],
        metadata={
            **table_metadata(resolution.clusters),
            **stats,
            **{page.stem: dg.MetadataValue.path(str(page)) for page in reports},
        },
    )
    yield dg.MaterializeResult(
        asset_key=["identity", "customer_links"], metadata=table_metadata(resolution.links)
    )
    yield dg.MaterializeResult(
        asset_key=["identity", "customer_id_history"],
        metadata={**table_metadata(history), "changes_this_run": len(resolution.history)},
    )
    yield dg.MaterializeResult(
        asset_key=["identity", "customer_match_explanations"], metadata=table_metadata(explanations)
    )
    yield dg.MaterializeResult(
        asset_key=["identity", "crm_duplicate_contacts"], metadata=table_metadata(duplicates)
    )


@dg.asset(
    key=["identity", "person_model"],
    group_name="identity",
    description=(
        "One row per comparison level (m and u probabilities) in the trained Splink person model JSON; "
        "version-controlled, trained manually, reviewed as a diff."
    ),
    deps=[["intermediate", "int_person_records"]],
    kinds={"splink"},
    tags={"cdp/trigger": "manual"},
    pool=WAREHOUSE_POOL,
)
def person_model(context: dg.AssetExecutionContext, cdp: CdpSettings) -> dg.MaterializeResult:
    """Re-estimate the Splink model from the person records and write it where prediction loads it."""
    settings = cdp.load()
    with warehouse.connect(settings.warehouse_path) as con:
        records = warehouse.read_table(con, "intermediate", "int_person_records")
    target = settings.identity_model or identity.DEFAULT_MODEL_PATH
    model = identity.train(records, target)
    context.log.info(f"trained on {len(records)} records; review the diff of {target} before committing it")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(target)),
            "training_records": len(records),
            "probability_two_random_records_match": model["probability_two_random_records_match"],
            "comparisons": [c["output_column_name"] for c in model["comparisons"]],
        }
    )
