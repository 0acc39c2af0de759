"""Identity layer: person records resolved into customers with persistent ids."""

import hashlib
import time
from pathlib import Path

import dagster as dg
import pandas as pd

import identity
from connectors import warehouse
from orchestration.assets._metadata import stored_table_metadata
from orchestration.assets.ingest import WAREHOUSE_POOL
from orchestration.resources import CdpSettings

# A run tag that forces a full reconcile for one run (the weekly schedule sets it).
IDENTITY_MODE_TAG = "cdp/identity_mode"
IDENTITY_TABLES = (
    "customer_clusters",
    "customer_links",
    "customer_id_history",
    "customer_match_explanations",
    "crm_duplicate_contacts",
    "person_match_keys",
    "resolution_runs",
)


def _identity_table(name: str, description: str, *kinds: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=["identity", name],
        group_name="identity",
        description=description,
        deps=[["intermediate", "int_person_records"]],
        kinds={*kinds, "duckdb"},
    )


@dg.multi_asset(
    specs=[
        _identity_table(
            "customer_clusters",
            "One row per source person record, with the persistent customer_id it resolved to.",
            "splink",
        ),
        _identity_table(
            "customer_links",
            "One row per accepted link between two person records (rule or match probability).",
            "splink",
        ),
        _identity_table(
            "customer_id_history",
            "One row per customer id created, merged, split or reassigned, with run, time and reason.",
        ),
        _identity_table(
            "customer_match_explanations",
            "One row per source person record: the rule or match weight and comparison levels that joined it.",
        ),
        _identity_table(
            "crm_duplicate_contacts",
            "One row per CRM contact whose customer holds more than one CRM contact (for the CRM owner).",
        ),
        _identity_table(
            "person_match_keys",
            "One row per source person record: the normalised values the matching compares and a "
            "fingerprint of its source values (the cache incremental runs link new records against).",
        ),
        _identity_table(
            "resolution_runs",
            "One row per identity run: full reconcile, incremental or unchanged, why, the record "
            "counts and the configuration digest it used.",
        ),
    ],
    pool=WAREHOUSE_POOL,
)
def customer_identity(context: dg.AssetExecutionContext, cdp: CdpSettings):
    """Link person records with the saved model and steward overrides: only new records when that is
    safe, otherwise a full reconcile that carries customer ids over from the last run."""
    settings = cdp.load()
    started = time.perf_counter()
    model_path = settings.identity_model or identity.DEFAULT_MODEL_PATH
    overrides_path = settings.identity_overrides or identity.DEFAULT_OVERRIDES_PATH
    overrides = identity.load_overrides(settings.identity_overrides)
    signature = identity.config_signature(
        model_path, overrides_path, settings.identity_threshold, settings.identity_max_cluster_size
    )
    requested = context.run.tags.get(IDENTITY_MODE_TAG, settings.identity_mode)
    with warehouse.connect(settings.warehouse_path) as con:
        records = warehouse.read_table(con, "intermediate", "int_person_records")
        current = identity.fingerprints(records)
        previous_keys, previous_signature = _previous_run(con)
        plan = identity.plan_run(
            current,
            None if previous_keys is None else previous_keys.set_index("record_id")["fingerprint"],
            signature,
            previous_signature,
            requested,
            settings.identity_incremental_max_share,
        )
        context.log.info(f"identity run: {plan.mode} ({plan.reason})")
        changes, stats, clusters = pd.DataFrame(columns=identity.HISTORY_COLUMNS), {}, None
        if plan.mode == "full":
            previous = None
            if warehouse.table_exists(con, "identity", "customer_clusters"):
                previous = con.execute("SELECT record_id, customer_id FROM identity.customer_clusters").df()
            resolution = identity.resolve(
                records,
                previous=previous,
                model_path=model_path,
                threshold=settings.identity_threshold,
                overrides=overrides,
                run_id=context.run_id,
                max_cluster_size=settings.identity_max_cluster_size,
            )
            clusters, links, changes, stats = (
                resolution.clusters,
                resolution.links,
                resolution.history,
                resolution.stats,
            )
            keys = resolution.normalised
        elif plan.mode == "incremental":
            linked = identity.link_new_records(
                records[records["record_id"].isin(plan.new)],
                previous_keys.drop(columns="fingerprint"),
                warehouse.read_table(con, "identity", "customer_clusters"),
                model_path=model_path,
                threshold=settings.identity_threshold,
                overrides=overrides,
                run_id=context.run_id,
            )
            clusters, changes, stats = linked.clusters, linked.history, linked.stats
            links = pd.concat([warehouse.read_table(con, "identity", "customer_links"), linked.links])
            keys = pd.concat(
                [previous_keys.drop(columns="fingerprint"), linked.normalised], ignore_index=True
            )
        # An unchanged run keeps every table as the last run left it.
        if clusters is not None:
            before = warehouse.table_fingerprint(con, "identity", "customer_clusters")
            keys = keys.assign(fingerprint=keys["record_id"].astype(str).map(current).astype("string"))
            warehouse.replace_table(con, "identity", "customer_clusters", clusters)
            warehouse.replace_table(con, "identity", "customer_links", links)
            warehouse.append_rows(con, "identity", "customer_id_history", changes)
            warehouse.replace_table(con, "identity", "person_match_keys", keys)
            warehouse.replace_table(
                con, "identity", "customer_match_explanations", identity.match_explanations(clusters, links)
            )
            warehouse.replace_table(
                con, "identity", "crm_duplicate_contacts", identity.crm_duplicates(clusters)
            )
            _audit_resolution(con, context.run_id, plan, before, changes, overrides_path)
        _record_run(con, context.run_id, plan, signature, len(records), time.perf_counter() - started)
        records_now, customers_now = con.execute(
            "SELECT count(*), count(DISTINCT customer_id) FROM identity.customer_clusters"
        ).fetchall()[0]
        stored = {table: stored_table_metadata(con, "identity", table) for table in IDENTITY_TABLES}
    stats = {
        "records": records_now,
        "customers": customers_now,
        **stats,
        "identity_run_mode": plan.mode,
        "identity_run_reason": plan.reason,
    }
    # The dashboards re-score every pair: a full run's job; incremental runs keep the last ones.
    reports = []
    if plan.mode == "full":
        reports = identity.write_dashboards(
            records,
            clusters,
            settings.report_dir("identity"),
            model_path=model_path,
            threshold=settings.identity_threshold,
        )
    context.log.info(f"{records_now} records → {customers_now} customers")
    extra = {
        "customer_clusters": {**stats, **{page.stem: dg.MetadataValue.path(str(page)) for page in reports}},
        "customer_id_history": {"changes_this_run": len(changes)},
        "person_match_keys": {"recomputed": plan.mode == "full"},
    }
    for table in IDENTITY_TABLES:
        yield dg.MaterializeResult(
            asset_key=["identity", table], metadata={**stored[table], **extra.get(table, {})}
        )


def _previous_run(con) -> tuple[pd.DataFrame | None, str | None]:
    """The last run's match keys (with fingerprints) and configuration digest, if there was a run."""
    if not (
        warehouse.table_exists(con, "identity", "person_match_keys")
        and warehouse.table_exists(con, "identity", "resolution_runs")
        and warehouse.table_exists(con, "identity", "customer_clusters")
    ):
        return None, None
    last = con.execute(
        "SELECT config_signature FROM identity.resolution_runs ORDER BY finished_at DESC LIMIT 1"
    ).fetchall()
    if not last:
        return None, None
    return warehouse.read_table(con, "identity", "person_match_keys"), last[0][0]


def _audit_resolution(
    con, run_id: str, plan: identity.RunPlan, before: str | None, changes: pd.DataFrame, overrides: Path
) -> None:
    """Append one audit record for a resolution that rewrote the customers (merges, splits, new ids).

    Before and after are the clusters table's fingerprints; the details count the id-history events
    by kind and name the overrides file's digest, so a steward decision taking effect is on record.
    """
    import getpass

    import governance

    events = changes["event"].value_counts().to_dict() if "event" in changes.columns else {}
    governance.append(
        con,
        actor=getpass.getuser(),
        action="identity.resolve",
        entity_type="table",
        entity_id="identity.customer_clusters",
        before=before,
        after=warehouse.table_fingerprint(con, "identity", "customer_clusters"),
        details={
            "run_id": run_id,
            "mode": plan.mode,
            "new_records": len(plan.new),
            "changed_records": len(plan.changed),
            "removed_records": len(plan.removed),
            "id_events": {str(k): int(v) for k, v in sorted(events.items())},
            "overrides_sha256": hashlib.sha256(overrides.read_bytes()).hexdigest()
            if overrides.exists()
            else None,
        },
    )


def _record_run(
    con, run_id: str, plan: identity.RunPlan, signature: str, records: int, seconds: float
) -> None:
    """Append this run to ``identity.resolution_runs``."""
    row = {
        "run_id": run_id,
        "finished_at": pd.Timestamp.now("UTC").tz_localize(None).floor("us"),
        "mode": plan.mode,
        "reason": plan.reason,
        "records": records,
        "new_records": len(plan.new),
        "changed_records": len(plan.changed),
        "removed_records": len(plan.removed),
        "seconds": round(seconds, 2),
        "config_signature": signature,
    }
    warehouse.append_rows(con, "identity", "resolution_runs", pd.DataFrame([row]))


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
