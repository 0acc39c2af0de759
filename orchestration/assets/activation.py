"""Activation layer: health scores and customer ids written back into the CRM, with a read-back check."""

import json
from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from connectors import warehouse
from connectors.sync import (
    CONFLICT,
    CircuitBreakerOpen,
    SqlCrmDestination,
    SyncResult,
    read_back,
    sync_sql_crm,
)
from orchestration.assets.ingest import WAREHOUSE_POOL
from orchestration.resources import CdpSettings

READ_BACK_SAMPLE = 20


def record_run(con, result: SyncResult, started_at: datetime) -> None:
    """Append a run's summary to ``sync.sync_runs`` (dry runs are not recorded).

    Args:
        con: Open warehouse connection.
        result: The run's result.
        started_at: When the run started (UTC, naive).
    """
    if result.dry_run:
        return
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
                "deleted": result.deleted,
                "skipped": result.skipped,
                "retryable_failed": result.retryable_failed,
                "new_failures": result.new_failures,
                "conflicts": result.conflicts,
            }
        ]
    )
    if warehouse.table_exists(con, "sync", "sync_runs"):
        for column in ("deleted", "skipped", "retryable_failed", "new_failures", "conflicts"):
            con.execute(f"ALTER TABLE sync.sync_runs ADD COLUMN IF NOT EXISTS {column} BIGINT")
        con.register("_run", frame)
        try:
            con.execute("INSERT INTO sync.sync_runs BY NAME SELECT * FROM _run")
        finally:
            con.unregister("_run")
    else:
        warehouse.replace_table(con, "sync", "sync_runs", frame)
    _audit_writes(con, result)


def _audit_writes(con, result: SyncResult) -> None:
    """Append one audit record for a sync run that wrote to its destination (a CRM write changes customer data).

    The records written are digested from this run's ``sync.sync_log`` rows (keys may be e-mail
    addresses, so only their digest is kept); the details are counts.
    """
    import getpass

    import governance

    if not (result.inserted or result.updated or result.deleted):
        return
    written = con.execute(
        "SELECT record_key, operation FROM sync.sync_log WHERE run_id = ? AND destination = ? "
        "AND status = 'ok' AND record_key IS NOT NULL ORDER BY ALL",
        [result.run_id, result.destination],
    ).fetchall()
    governance.append(
        con,
        actor=getpass.getuser(),
        action="sync.write",
        entity_type="destination",
        entity_id=result.destination,
        after={"run_id": result.run_id, "written": [list(row) for row in written]},
        details={
            "run_id": result.run_id,
            "inserted": result.inserted,
            "updated": result.updated,
            "deleted": result.deleted,
            "failed": result.failed,
            "conflicts": result.conflicts,
        },
    )


def run_metadata(result: SyncResult, open_dead_letters: int | None = None) -> dict[str, dg.MetadataValue]:
    """The run summary as Dagster metadata.

    Args:
        result: The run's result.
        open_dead_letters: Unresolved failures in the destination's dead letters, when known.

    Returns:
        Metadata for a materialization.
    """
    metadata: dict[str, dg.MetadataValue] = {
        "destination": dg.MetadataValue.text(result.destination),
        "run_id": dg.MetadataValue.text(result.run_id),
        "dry_run": dg.MetadataValue.bool(result.dry_run),
        "considered": dg.MetadataValue.int(result.considered),
        "unchanged": dg.MetadataValue.int(result.unchanged),
        "inserted": dg.MetadataValue.int(result.inserted),
        "updated": dg.MetadataValue.int(result.updated),
        "deleted": dg.MetadataValue.int(result.deleted),
        "skipped": dg.MetadataValue.int(result.skipped),
        "failed": dg.MetadataValue.int(result.failed),
        "new_failures": dg.MetadataValue.int(result.new_failures),
        "retryable_failed": dg.MetadataValue.int(result.retryable_failed),
        "conflicts": dg.MetadataValue.int(result.conflicts),
        "duration_s": dg.MetadataValue.float(round(result.duration_s, 2)),
    }
    if open_dead_letters is not None:
        metadata["open_dead_letters"] = dg.MetadataValue.int(open_dead_letters)
    if result.aborted:
        metadata["aborted"] = dg.MetadataValue.text(result.aborted)
    if result.plan is not None:
        metadata["plan"] = dg.MetadataValue.json(json.loads(json.dumps(result.plan)))
    return metadata


def open_dead_letters(con, destination: str) -> int:
    """Count a destination's unresolved failures (its shared-key conflicts are counted by the run).

    Args:
        con: Open warehouse connection.
        destination: Destination name.

    Returns:
        The count; 0 when the table does not exist.
    """
    if not warehouse.table_exists(con, "sync", "dead_letters"):
        return 0
    return con.execute(
        "SELECT count(*) FROM sync.dead_letters WHERE destination = ? AND resolved_at IS NULL "
        "AND operation <> ?",
        [destination, CONFLICT],
    ).fetchall()[0][0]


def log_result(context, result: SyncResult) -> None:
    """Log the run's counts and distinct error messages (never record values)."""
    context.log.info(
        f"{result.destination}{' (dry run)' if result.dry_run else ''}: {result.inserted} inserted, "
        f"{result.updated} updated, {result.deleted} deleted, {result.unchanged} unchanged, "
        f"{result.failed} failed ({result.new_failures} new, {result.retryable_failed} retried next run), "
        f"{result.conflicts} not sent for a key shared with another record (see `cdp sync dead-letters`)"
    )
    for error in result.errors:
        context.log.warning(f"sync error: {error}")
    if result.aborted:
        context.log.warning(f"sync stopped early: {result.aborted}")


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
        try:
            result = sync_sql_crm(scores, target, con, run_id=context.run_id, policy=settings.sync_policy())
        except CircuitBreakerOpen as exc:
            raise dg.Failure(str(exc)) from None
        record_run(con, result, started_at)
        dead = open_dead_letters(con, result.destination)
    log_result(context, result)
    return dg.MaterializeResult(metadata=run_metadata(result, dead))


@dg.asset_check(
    asset=dg.AssetKey(["crm", "contact_health_fields"]),
    name="crm_read_back",
    description=f"Reads {READ_BACK_SAMPLE} synced contacts back from the CRM and compares them with what was confirmed.",
    pool=WAREHOUSE_POOL,
)
def crm_read_back(context: dg.AssetCheckExecutionContext, cdp: CdpSettings) -> dg.AssetCheckResult:
    """Sample confirmed records, read them from the CRM database, and report any field that differs."""
    settings = cdp.load()
    with warehouse.connect(settings.warehouse_path) as con:
        checked, problems = read_back(SqlCrmDestination(settings.sync_target()), con, sample=READ_BACK_SAMPLE)
    for problem in problems[:10]:
        context.log.warning(problem)
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"checked": checked, "mismatches": len(problems)},
    )
