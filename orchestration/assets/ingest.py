"""Ingest layer: CRM tables and landing-folder files into the warehouse's raw_* schemas."""

import dagster as dg
import pandas as pd

from connectors import warehouse
from connectors.crm import CRM_TABLES, read_crm_table
from connectors.files import SOURCES, FileSource, read_source
from orchestration.assets._metadata import table_metadata
from orchestration.resources import CdpSettings

WAREHOUSE_POOL = "duckdb_warehouse"


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
            frame["_loaded_at"] = pd.Timestamp.now("UTC").tz_localize(None).floor("us")
            changed = warehouse.upsert_table(con, "raw_crm", table.name, frame, table.key)
            # Count and preview in SQL: the table grows with every load, the metadata need not.
            total = con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
            head = con.execute(f"SELECT * FROM {name} LIMIT 5").df()
            context.log.info(f"raw_crm.{table.name}: {changed} new or changed rows, {total} in all")
            yield dg.MaterializeResult(
                asset_key=["raw_crm", table.name],
                metadata={
                    **table_metadata(head, row_count=total),
                    "rows_changed_this_run": dg.MetadataValue.int(changed),
                    "incremental_since": dg.MetadataValue.text(str(since) if since else "full load"),
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
        result = read_source(src, settings.landing_dir, context.run_id)
        with warehouse.connect(settings.warehouse_path) as con:
            warehouse.replace_table(con, src.schema, src.table, result.rows)
            quarantined = warehouse.write_quarantine(con, src.schema, src.table, result.rejects)
        if not result.files:
            context.log.warning(f"no files matched {src.pattern} under the landing folder")
        if quarantined:
            rules = result.rejects.groupby("rule").size().to_dict()
            context.log.warning(
                f"{quarantined} row(s) quarantined to quarantine.{src.schema}__{src.table} by rule: {rules}"
            )
        for file, columns in result.unexpected_columns.items():
            context.log.warning(f"{file}: new column(s) {columns} not in the schema; ignored")
        return dg.MaterializeResult(
            metadata={
                **table_metadata(result.rows),
                "files": dg.MetadataValue.json(result.files),
                "quarantined_rows": dg.MetadataValue.int(quarantined),
                "schema_drift": dg.MetadataValue.json(result.unexpected_columns),
            }
        )

    return _asset


file_assets = [_file_asset(src) for src in SOURCES]
