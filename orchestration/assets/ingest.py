"""Ingest layer: CRM tables and landing-folder files into the warehouse's raw_* schemas.

Rows failing row rules go to ``quarantine.<schema>__<table>``; header and column changes are
appended to ``quality.schema_drift``; rows a steward released are read again (``quality.released_rows``).
"""

import json
import time
from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from connectors import warehouse
from connectors.crm import CRM_TABLES, CrmTable, read_crm_table
from connectors.files import (
    SOURCES,
    FileSource,
    IngestLimits,
    Release,
    _manifest,
    read_source,
    row_hash,
    rules_fingerprint,
)
from orchestration.assets._metadata import stored_table_metadata
from orchestration.resources import CdpSettings

WAREHOUSE_POOL = "duckdb_warehouse"


# CRM columns recording when something happened; plans such as close or renewal dates may lie ahead.
_CRM_EVENT_TIMES = ("created_at", "updated_at", "occurred_at", "changed_at", "stage_entered_at")


def crm_row_rejects(
    frame: pd.DataFrame, table: CrmTable, run_id: str, limits: IngestLimits | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split CRM rows into good rows and quarantine rows by the CRM row rules.

    Rules: the primary key is present (``missing_key``); an ``email`` holds one ``@`` and a dotted
    domain (``invalid_email``); ``updated_at`` is not before ``created_at`` (``updated_before_created``);
    a time something happened (created, updated, occurred, changed, stage entered) lies within the
    plausible range (``implausible_date``).

    Args:
        frame: Rows read from the CRM table.
        table: The CRM table.
        run_id: The pipeline run.
        limits: Plausible dates (default: none checked).

    Returns:
        The good rows and the quarantine rows (``QUARANTINE_COLUMNS`` layout, file ``crm:<table>``).
    """
    checks = [(frame[table.key].isna(), table.key, "missing_key", f"primary key '{table.key}' is empty")]
    if "email" in frame.columns:
        email = frame["email"].astype("string").str.strip()
        shaped = email.str.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", na=True).astype(bool)
        checks.append((~shaped, "email", "invalid_email", "not an email address"))
    if {"created_at", "updated_at"} <= set(frame.columns):
        before = (frame["updated_at"] < frame["created_at"]).fillna(False).astype(bool)
        checks.append((before, "updated_at", "updated_before_created", "updated_at is before created_at"))
    if limits is not None:
        for column in _CRM_EVENT_TIMES:
            if column in frame.columns and pd.api.types.is_datetime64_any_dtype(frame[column]):
                outside = ~frame[column].between(limits.earliest, limits.latest) & frame[column].notna()
                reason = (
                    f"{column} is outside the plausible range {limits.earliest.date()} to {limits.latest.date()} "
                    "(CDP_INGEST_EARLIEST_DATE, CDP_INGEST_MAX_FUTURE_DAYS); fix it in the CRM"
                )
                checks.append((outside.astype(bool), column, "implausible_date", reason))
    failed = pd.Series(False, index=frame.index)
    rejects = []
    for mask, column, rule, reason in checks:
        mask = mask & ~failed
        failed |= mask
        for index in frame.index[mask]:
            row = frame.loc[index]
            raw = json.dumps(row.to_dict(), default=str, ensure_ascii=False)
            rejects.append(
                {
                    "source_file": f"crm:{table.name}",
                    "record_key": None if pd.isna(row[table.key]) else str(row[table.key]),
                    "field": column,
                    "rule": rule,
                    "reason": reason,
                    "raw_value": None if pd.isna(row[column]) else str(row[column]),
                    "row_hash": row_hash(raw),
                    "run_id": run_id,
                    "quarantined_at": datetime.now(UTC).replace(tzinfo=None),
                }
            )
    return frame[~failed], pd.DataFrame(rejects)


def crm_drift(con, table: CrmTable, frame: pd.DataFrame) -> list[dict[str, str]]:
    """Compare the columns read from a CRM table with the warehouse's copy of it.

    Args:
        con: Open warehouse connection.
        table: The CRM table.
        frame: The rows just read (before the lineage column is added).

    Returns:
        Drift dicts (``source_file, column, change, detail``): new, missing or retyped columns;
        empty on the first load.
    """
    if not warehouse.table_exists(con, "raw_crm", table.name):
        return []
    existing = {
        r[0]: r[1]
        for r in con.execute(f"DESCRIBE {warehouse.qualified('raw_crm', table.name)}").fetchall()
        if not r[0].startswith("_")
    }
    con.register("_probe", frame)
    try:
        incoming = {r[0]: r[1] for r in con.execute("DESCRIBE _probe").fetchall()}
    finally:
        con.unregister("_probe")
    where = f"crm:{table.name}"
    drift = [
        {"source_file": where, "column": c, "change": "new", "detail": f"type {incoming[c]}; column added"}
        for c in sorted(incoming.keys() - existing.keys())
    ]
    drift += [
        {
            "source_file": where,
            "column": c,
            "change": "missing",
            "detail": f"was {existing[c]}; kept, no new values",
        }
        for c in sorted(existing.keys() - incoming.keys())
    ]
    # A partial incremental read can turn an integer column into floats (nulls) or leave it all
    # null; only a change of kind (number, text, time, flag) on a column with values is drift.
    drift += [
        {"source_file": where, "column": c, "change": "retyped", "detail": f"{existing[c]} -> {incoming[c]}"}
        for c in sorted(existing.keys() & incoming.keys())
        if frame[c].notna().any()
        and incoming[c] != '"NULL"'
        and _type_kind(existing[c]) != _type_kind(incoming[c])
    ]
    return drift


def _type_kind(duckdb_type: str) -> str:
    upper = duckdb_type.upper()
    if upper.startswith(("TIMESTAMP", "DATE", "TIME")):
        return "time"
    if upper == "BOOLEAN":
        return "flag"
    if upper.startswith(
        ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UBIGINT", "DOUBLE", "FLOAT", "DECIMAL")
    ):
        return "number"
    return upper


def _releases(con, src: FileSource) -> dict[tuple[str, int], Release]:
    frame = warehouse.released_rows(con, src.schema, src.table)
    return {
        (r.source_file, int(r.source_line)): Release(r.row_hash, r.action, json.loads(r.fixes or "{}"))
        for r in frame.itertuples()
        if pd.notna(r.source_line)
    }


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key=["raw_crm", table.name],
            group_name="raw_crm",
            description=table.description,
            kinds={"sqlalchemy", "duckdb"},
            skippable=True,
        )
        for table in CRM_TABLES
    ],
    can_subset=True,
    pool=WAREHOUSE_POOL,
)
def crm_tables(context: dg.AssetExecutionContext, cdp: CdpSettings):
    """Pull the CRM tables incrementally (rows updated since the newest one already loaded)."""
    settings = cdp.load()
    selected = {key.path[-1] for key in context.selected_asset_keys}
    with warehouse.connect(settings.warehouse_path) as con:
        for table in CRM_TABLES:
            if table.name not in selected:
                continue
            name = warehouse.qualified("raw_crm", table.name)
            since = None
            if warehouse.table_exists(con, "raw_crm", table.name):
                columns = {r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()}
                if "updated_at" in columns:
                    since = con.execute(f"SELECT max(updated_at) FROM {name}").fetchall()[0][0]
            frame = read_crm_table(settings.crm_url, table, since=since, schema=settings.crm_schema)
            if frame.attrs.get("missing_in_crm"):
                context.log.warning(
                    f"the CRM has no table '{table.name}'; raw_crm.{table.name} stays empty (optional table)"
                )
            drift = crm_drift(con, table, frame)
            warehouse.append_schema_drift(con, context.run_id, "raw_crm", table.name, drift)
            frame, rejects = crm_row_rejects(frame, table, context.run_id, settings.ingest_limits())
            frame = warehouse.changed_rows(con, "raw_crm", table.name, frame)
            quarantined = warehouse.write_quarantine(con, "raw_crm", table.name, rejects, keep_previous=True)
            if len(rejects):
                rules = rejects.groupby("rule").size().to_dict()
                context.log.warning(
                    f"raw_crm.{table.name}: {len(rejects)} row(s) quarantined by rule {rules}; fix them in the CRM"
                )
            frame["_loaded_at"] = pd.Timestamp.now("UTC").tz_localize(None).floor("us")
            changed = warehouse.upsert_table(con, "raw_crm", table.name, frame, table.key)
            # Count and preview in SQL: the table grows with every load, the metadata need not.
            stored = stored_table_metadata(con, "raw_crm", table.name)
            context.log.info(
                f"raw_crm.{table.name}: {changed} new or changed rows, {stored['dagster/row_count'].value} in all"
            )
            yield dg.MaterializeResult(
                asset_key=["raw_crm", table.name],
                metadata={
                    **stored,
                    "rows_changed_this_run": dg.MetadataValue.int(changed),
                    "incremental_since": dg.MetadataValue.text(str(since) if since else "full load"),
                    "quarantined_rows": dg.MetadataValue.int(quarantined),
                    "schema_drift": dg.MetadataValue.json(drift),
                },
            )


def _file_asset(src: FileSource) -> dg.AssetsDefinition:
    @dg.asset(
        key=[src.schema, src.table],
        group_name=src.schema,
        description=src.description,
        kinds={"file", "duckdb"},
        pool=WAREHOUSE_POOL,
    )
    def _asset(context: dg.AssetExecutionContext, cdp: CdpSettings) -> dg.MaterializeResult:
        settings = cdp.load()
        step = f"ingest:{src.schema}.{src.table}"
        with warehouse.connect(settings.warehouse_path) as con:
            releases = _releases(con, src)
            limits = settings.ingest_limits()
            rules = warehouse.fingerprint(
                rules_fingerprint(), limits, sorted((k, vars(v)) for k, v in releases.items())
            )
            last = warehouse.last_step_state(con, step)
            known = _manifest.read_manifest(con, src)
            files = _manifest.scan(src, settings.landing_dir, known)
            reusable = (
                last is not None
                and last["fingerprint"] == rules
                and warehouse.table_exists(con, src.schema, src.table)
                and warehouse.table_exists(con, "quarantine", f"{src.schema}__{src.table}")
            )
            plan = _manifest.plan_load(files, known, reusable)
            context.log.info(f"{src.schema}.{src.table}: {plan.mode} load ({plan.reason})")
            if plan.mode == "unchanged":
                return dg.MaterializeResult(
                    metadata={
                        **stored_table_metadata(con, src.schema, src.table),
                        "load": dg.MetadataValue.text(
                            f"unchanged since run {last['run_id']}: no file re-read"
                        ),
                        "files": dg.MetadataValue.json([f.source_file for f in files]),
                    }
                )
            started = time.monotonic()
            result = read_source(
                src, settings.landing_dir, context.run_id, releases=releases, limits=limits, only=plan.to_read
            )
            seconds = time.monotonic() - started
            read = sum(stat["data_rows"] for stat in result.file_stats)
            context.log.info(
                f"{src.schema}.{src.table}: read {read:,} rows from {len(plan.to_read)} file(s) in {seconds:.1f}s "
                f"({read / max(seconds, 1e-3):,.0f} rows/s)"
            )
            if plan.mode == "append":
                result = _manifest.drop_loaded_repeats(con, src, result, context.run_id)
                warehouse.append_rows(con, src.schema, src.table, result.rows)
            else:
                warehouse.replace_table(con, src.schema, src.table, result.rows)
            quarantined = warehouse.write_quarantine(
                con, src.schema, src.table, result.rejects, keep_previous=plan.mode == "append"
            )
            warehouse.append_schema_drift(con, context.run_id, src.schema, src.table, result.drift)
            warehouse.append_ingest_files(con, context.run_id, src.schema, src.table, result.file_stats)
            _manifest.write_manifest(con, src, plan.files, context.run_id)
            warehouse.save_step_state(con, step, rules, context.run_id)
            stored = stored_table_metadata(con, src.schema, src.table)
        if not plan.files:
            context.log.warning(f"no files matched {src.pattern} under the landing folder")
        for file in result.empty_files:
            context.log.warning(f"{file}: no data rows (empty, or a header only); nothing loaded from it")
        for stat in result.file_stats:
            if stat["encoding"] not in {None, "utf-8-sig"}:
                context.log.warning(
                    f"{stat['source_file']}: not UTF-8; read as {stat['encoding']} (detected)"
                )
        if result.duplicates_dropped:
            context.log.info(
                f"{result.duplicates_dropped} re-delivered row(s) dropped (first copy kept; see quality.ingest_files)"
            )
        if len(result.rejects):
            rules_hit = result.rejects.groupby("rule").size().to_dict()
            context.log.warning(
                f"{len(result.rejects)} row(s) quarantined to quarantine.{src.schema}__{src.table} by rule: {rules_hit}"
            )
        for file, columns in result.unexpected_columns.items():
            context.log.warning(f"{file}: new column(s) {columns} not in the schema; ignored")
        if result.releases_applied:
            context.log.info(f"{result.releases_applied} released row(s) read again")
        return dg.MaterializeResult(
            metadata={
                **stored,
                "load": dg.MetadataValue.text(
                    f"{plan.mode}: {plan.reason}; read {len(plan.to_read)} file(s)"
                ),
                "files": dg.MetadataValue.json([f.source_file for f in plan.files]),
                "rows_loaded_this_run": dg.MetadataValue.int(len(result.rows)),
                "quarantined_rows": dg.MetadataValue.int(quarantined),
                "schema_drift": dg.MetadataValue.json(result.drift),
                "released_rows_read": dg.MetadataValue.int(result.releases_applied),
                "duplicates_dropped": dg.MetadataValue.int(result.duplicates_dropped),
                "empty_files": dg.MetadataValue.json(result.empty_files),
            }
        )

    return _asset


file_assets = [_file_asset(src) for src in SOURCES]
