"""Running the pipeline from the command line and summarising what it left in the warehouse."""

import os
from pathlib import Path

import dagster as dg
import pandas as pd

import identity
from connectors import warehouse
from orchestration.settings import Settings

SUMMARY_SCHEMAS = (
    "raw_crm",
    "raw_marketing",
    "raw_service",
    "raw_consent",
    "raw_hubspot",
    "quarantine",
    "quality",
    "intermediate",
    "identity",
    "marts",
    "audiences",
    "sync",
    "governance",
)


def run_pipeline(select: str = "*") -> dg.ExecuteInProcessResult:
    """Materialize the selected assets (all by default) and their checks in this process.

    The run is recorded in the Dagster instance (``DAGSTER_HOME``), so it shows in the UI. Only
    one run at a time may hold the warehouse; runs a killed process left behind are marked failed
    and their pool slots freed first; SIGINT and SIGTERM stop the run at any point (see
    ``orchestration.run_guard``).

    Args:
        select: A Dagster asset selection string; ``*`` for everything.

    Returns:
        Dagster's result (``success``, events, check evaluations).

    Raises:
        WarehouseBusy: Another process holds the warehouse; nothing ran.
        RunInterrupted: SIGINT or SIGTERM stopped the run; it is finished in the run storage.
    """
    import uuid

    from orchestration import run_guard
    from orchestration.definitions import build_definitions

    with run_guard.stopping_on_signals(), run_guard.warehouse_lock(Settings.from_env().warehouse_path):
        if select == "*":
            job = build_definitions().resolve_job_def("cdp_pipeline")
        else:
            selected = dg.define_asset_job("cdp_selection", selection=select)
            job = build_definitions(extra_jobs=[selected]).resolve_job_def("cdp_selection")
        # Without DAGSTER_HOME the run still works but is not kept for the UI.
        instance = (
            dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
        )
        with instance:
            run_guard.free_dead_runs(instance)
            run_id = str(uuid.uuid4())
            quiet_job, run_config = run_guard.without_interrupt_stacks(job, instance)
            with run_guard.guarded_run(instance, run_id):
                return quiet_job.execute_in_process(
                    run_config=run_config,
                    instance=instance,
                    raise_on_error=False,
                    run_id=run_id,
                    tags=run_guard.owner_tags(),
                )


def evaluate_against_truth(
    warehouse_path: Path,
    truth_path: Path | None = None,
    pairs_path: Path | None = None,
    truth_column: str = "person_id",
    predicted_path: Path | None = None,
    id_column: str = "record_id",
    dataset_column: str | None = None,
) -> dict:
    """Accuracy of the warehouse's (or a resolve output's) customers against a ground truth or labelled pairs.

    Args:
        warehouse_path: The DuckDB warehouse (not read when ``predicted_path`` is given).
        truth_path: CSV/Parquet with the true person of each record in ``truth_column``, the record
            given by ``id_column`` or (for the warehouse's records) as ``source, source_record_id``.
        pairs_path: CSV/Parquet of labelled pairs ``record_id_l, record_id_r, is_match`` (and
            ``source_dataset_l, source_dataset_r`` for a link output whose ids repeat across files).
        truth_column: The column of ``truth_path`` naming the true person.
        predicted_path: Assignments written by ``cdp identity resolve`` (``source_dataset, record_id,
            customer_id``) to score instead of the warehouse's customers.
        id_column: The column of ``truth_path`` holding the record id.
        dataset_column: The column of ``truth_path`` naming each record's input file as the
            assignments do; None: ``source_dataset`` if the truth has it.

    Returns:
        The evaluation figures: pairwise and B-cubed precision/recall/F1, over-merge and split rates,
        and how much of the prediction and of the truth the other covers.

    Raises:
        ValueError: Neither or both truths given, a required column missing, or truth and prediction
            that do not line up (named with the file).
    """
    if (truth_path is None) == (pairs_path is None):
        raise ValueError("give either a ground-truth file or a labelled-pairs file")
    if predicted_path is not None:
        predicted = identity.read_table_file(predicted_path)
        missing = {"record_id", "customer_id"} - set(predicted.columns)
        if missing:
            raise ValueError(f"{predicted_path}: missing column(s) {sorted(missing)}")
    else:
        with warehouse.connect(warehouse_path) as con:
            predicted = con.execute("SELECT record_id, customer_id FROM identity.customer_clusters").df()
    if pairs_path is not None:
        try:
            return identity.evaluate_pairs(predicted, identity.read_table_file(pairs_path)).as_dict()
        except ValueError as error:
            raise ValueError(f"{pairs_path}: {error}") from None
    truth = identity.read_table_file(truth_path)
    warehouse_keys = {"source", "source_record_id"} <= set(truth.columns)
    if id_column not in truth.columns and not (id_column == "record_id" and warehouse_keys):
        raise ValueError(
            f"{truth_path}: has no record id column '{id_column}' (name it with --id); "
            f"its columns are: {', '.join(truth.columns)}"
        )
    if truth_column not in truth.columns:
        raise ValueError(f"{truth_path}: has no person column '{truth_column}' (name it with --truth-column)")
    if dataset_column is not None and dataset_column not in truth.columns:
        raise ValueError(f"{truth_path}: has no input file column '{dataset_column}'")
    if id_column in truth.columns:
        record_ids = truth[id_column]
    elif predicted_path is not None:
        raise ValueError(
            f"{truth_path}: keys records by source, source_record_id (the warehouse's records), but "
            f"{predicted_path} is keyed by record_id; name the truth's id column with --id"
        )
    else:
        # The email source is keyed by the address as the ESP exported it; the warehouse trims and lower-cases it.
        is_email = truth["source"] == "email"
        truth.loc[is_email, "source_record_id"] = (
            truth.loc[is_email, "source_record_id"].str.strip().str.lower()
        )
        record_ids = truth["source"] + ":" + truth["source_record_id"]
    frame = pd.DataFrame({"record_id": record_ids, "person_id": truth[truth_column]})
    dataset_column = dataset_column or ("source_dataset" if "source_dataset" in truth.columns else None)
    if dataset_column is not None:
        frame["source_dataset"] = truth[dataset_column]
    try:
        return identity.evaluate_clusters(predicted, frame).as_dict()
    except ValueError as error:
        raise ValueError(f"{truth_path}: {error}") from None


# The asset each summary section is read from; a section is as fresh as the run that last built it.
SECTION_ASSETS: dict[str, tuple[str, ...]] = {
    "identity": ("identity/customer_clusters",),
    "health": ("marts/customer_health",),
    "account_health": ("marts/account_health",),
    "lifecycle": ("marts/customer_lifecycle_stages",),
    "alerts": (
        "marts/customer_health_drop_alerts",
        "marts/opportunity_stall_alerts",
        "marts/customer_stall_alerts",
        "marts/account_contact_cadence_alerts",
    ),
    "audiences": ("audiences/audience_membership_history",),
    "sync": ("crm/contact_health_fields",),
}


def _why_not_built(result: dg.ExecuteInProcessResult, keys: list[dg.AssetKey], blocked_by: list[str]) -> str:
    if not set(keys) & set(result.job_def.asset_layer.selected_asset_keys):
        return "not selected in this run"
    reasons = []
    if blocked_by:
        reasons.append(f"failed blocking check(s) {', '.join(blocked_by)}")
    failed = sorted(result.get_failed_step_keys())
    if failed:
        reasons.append(f"failed step(s) {', '.join(failed)}")
    return "not built in this run: " + ("; ".join(reasons) or "its step did not run")


def section_sources(result: dg.ExecuteInProcessResult | None) -> dict[str, dict]:
    """Tell, per summary section, which run built its figures and whether they are stale.

    Args:
        result: The run just made; None when only the warehouse is summarised (``cdp summary``).

    Returns:
        Per section: ``run_id`` and ``at`` (ISO time, UTC) of the run that last built its asset
        (None when never recorded), ``current`` (built by ``result``; always True without a
        result) and ``reason`` why it is not current (None when it is).
    """
    blocked_by = []
    built: set[dg.AssetKey] = set()
    if result is not None:
        built = {e.asset_key for e in result.get_asset_materialization_events()}
        blocked_by = [
            f"{e.asset_key.to_user_string()}:{e.check_name}"
            for e in result.get_asset_check_evaluations()
            if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
        ]
    # Without DAGSTER_HOME there is no run history to read the provenance from.
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None
    sources = {}
    for section, paths in SECTION_ASSETS.items():
        keys = [dg.AssetKey.from_user_string(p) for p in paths]
        latest = [instance.get_latest_materialization_event(k) for k in keys] if instance else []
        latest = [e for e in latest if e is not None]
        newest = max(latest, key=lambda e: e.timestamp, default=None)
        current = result is None or any(k in built for k in keys)
        sources[section] = {
            "run_id": newest.run_id if newest else None,
            "at": pd.Timestamp(newest.timestamp, unit="s", tz="UTC").isoformat(timespec="seconds")
            if newest
            else None,
            "current": current,
            "reason": None if current else _why_not_built(result, keys, blocked_by),
        }
    if instance is not None:
        instance.dispose()
    return sources


def summary(result: dg.ExecuteInProcessResult | None) -> dict:
    """Collect the figures the demo prints.

    Args:
        result: The run just made, for its check results; None to summarise the warehouse only.

    Returns:
        Tables and row counts, identity accuracy (when the landing folder has a ground truth),
        health tiers, customers per current lifecycle stage, alert counts, audience sizes, check
        results, sync figures, which run each section comes from (``sources``: stale sections
        say why) and where to look.
    """
    settings = Settings.from_env()
    data: dict = {"tables": []}
    with warehouse.connect(settings.warehouse_path) as con:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN (SELECT unnest(?)) ORDER BY 1, 2",
            [list(SUMMARY_SCHEMAS)],
        ).fetchall()
        for schema, table in tables:
            rows = con.execute(f"SELECT count(*) FROM {warehouse.qualified(schema, table)}").fetchall()[0][0]
            data["tables"].append({"schema": schema, "table": table, "rows": rows})
        present = {(r["schema"], r["table"]) for r in data["tables"]}
        if ("identity", "customer_clusters") in present:
            records, customers = con.execute(
                "SELECT count(*), count(DISTINCT customer_id) FROM identity.customer_clusters"
            ).fetchall()[0]
            data["identity"] = {"records": records, "customers": customers}
        if ("marts", "customer_health") in present:
            data["health"] = dict(
                con.execute(
                    "SELECT health_tier, count(*) FROM marts.customer_health GROUP BY 1 ORDER BY 1"
                ).fetchall()
            )
        if ("marts", "account_health") in present:
            data["account_health"] = dict(
                con.execute(
                    "SELECT account_health_tier, count(*) FROM marts.account_health GROUP BY 1 ORDER BY 1"
                ).fetchall()
            )
        if ("marts", "customer_lifecycle_stages") in present:
            data["lifecycle"] = dict(
                con.execute(
                    "SELECT stage, count(*) FROM marts.customer_lifecycle_stages WHERE is_current "
                    "GROUP BY stage ORDER BY min(stage_rank)"
                ).fetchall()
            )
        data["alerts"] = {
            table: con.execute(f"SELECT count(*) FROM marts.{table}").fetchall()[0][0]
            for table in (
                "customer_health_drop_alerts",
                "opportunity_stall_alerts",
                "customer_stall_alerts",
                "account_contact_cadence_alerts",
            )
            if ("marts", table) in present
        }
        data["audiences"] = {
            r["table"]: r["rows"]
            for r in data["tables"]
            if r["schema"] == "audiences" and r["table"] != "audience_membership_history"
        }
        if ("sync", "sync_runs") in present:
            last = con.execute(
                "SELECT destination, considered, inserted, updated, unchanged, failed "
                "FROM sync.sync_runs ORDER BY started_at DESC LIMIT 1"
            ).df()
            data["sync"] = last.iloc[0].to_dict()
        if ("governance", "audit_log") in present:
            import governance

            anchors = governance.anchors_file(settings.warehouse_path)
            chain = governance.verify(con, anchors if anchors.exists() else None)
            data["audit"] = {
                "records": chain.records,
                "head": chain.head_hash,
                "intact": chain.intact,
                "broken_seq": chain.broken_seq,
            }
    truth = settings.landing_dir / "ground_truth.csv"
    if data.get("identity") and truth.exists():
        figures = evaluate_against_truth(settings.warehouse_path, truth)
        # Keep the warehouse's own record and customer counts; the evaluation covers labelled records only.
        data["identity"].update({k: v for k, v in figures.items() if k not in {"records", "customers"}})
    if result is not None:
        data["checks"] = [
            {"asset": e.asset_key.to_user_string(), "name": e.check_name, "passed": e.passed}
            for e in result.get_asset_check_evaluations()
        ]
    data["run_id"] = result.run_id if result is not None else None
    data["sources"] = section_sources(result)
    data["paths"] = {
        "warehouse": str(settings.warehouse_path),
        "CRM": settings.crm_url if settings.crm_url.startswith("sqlite") else "(CDP_CRM_URL)",
        "landing folder": str(settings.landing_dir),
        "steward report (data quality)": str(settings.report_dir("quality") / "index.html"),
        "identity dashboards": str(settings.report_dir("identity")),
        "Dagster UI": "make ui  (then open http://127.0.0.1:3000)",
    }
    return data
