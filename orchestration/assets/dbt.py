"""dbt models as assets, keyed by the schema they live in (staging, intermediate, marts).

Two asset definitions over one dbt project: everything up to the person records runs before
identity resolution, the marts after it, since the marts read ``identity.customer_clusters``.
"""

import hashlib
import os
import sys
from collections.abc import Mapping
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from connectors import warehouse
from orchestration.assets.ingest import WAREHOUSE_POOL
from orchestration.resources import CdpSettings

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# The dbt installed beside this interpreter, so the CLI works without an activated venv.
_VENV_DBT = Path(sys.executable).with_name("dbt")


def dbt_resource() -> DbtCliResource:
    """The dbt CLI resource for this project."""
    return DbtCliResource(
        project_dir=dbt_project, dbt_executable=str(_VENV_DBT) if _VENV_DBT.exists() else "dbt"
    )


class SchemaKeyTranslator(DagsterDbtTranslator):
    """Asset key = [schema, table] for models and sources alike, group = schema.

    Sources written by Python assets therefore share their keys, and lineage is one graph.
    """

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        """Key a dbt node by where it lives in the warehouse."""
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        schema = dbt_resource_props["config"].get("schema") or dbt_resource_props["schema"]
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """Group a model with the other tables of its schema."""
        return self.get_asset_key(dbt_resource_props).path[0]


translator = SchemaKeyTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def _project_fingerprint() -> str:
    """Hash of every file that shapes what dbt builds: models, macros, tests, seeds, the project."""
    parts = [DBT_PROJECT_DIR / "dbt_project.yml"]
    for folder in ("models", "macros", "tests", "seeds"):
        parts.extend(sorted(p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.is_file()))
    return warehouse.fingerprint(
        *(
            (p.relative_to(DBT_PROJECT_DIR).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest())
            for p in parts
        )
    )


def _inputs_fingerprint(con: duckdb.DuckDBPyConnection, context: dg.AssetExecutionContext, as_of: str) -> str:
    """Fingerprint of what a dbt build reads: upstream tables' content, the project, the as-of date."""
    upstream = sorted(context.assets_def.dependency_keys - set(context.assets_def.keys))
    tables = [(key.to_user_string(), warehouse.table_fingerprint(con, *key.path)) for key in upstream]
    selected = sorted(key.to_user_string() for key in context.selected_asset_keys)
    return warehouse.fingerprint(tables, _project_fingerprint(), as_of, selected)


def _build(context: dg.AssetExecutionContext, dbt: DbtCliResource, cdp: CdpSettings):
    """Run ``dbt build`` for the selected models, unless nothing they read changed since the last build.

    An unchanged build reports each model as materialized (metadata says it was not rebuilt) and
    carries the dbt tests' last outcomes over, so downstream steps and checks see the same state.
    """
    settings = cdp.load()
    os.environ.update(settings.dbt_env())
    step = f"dbt:{context.assets_def.node_def.name}"
    with warehouse.connect(settings.warehouse_path) as con:
        inputs = _inputs_fingerprint(con, context, settings.as_of().isoformat())
        last = warehouse.last_step_state(con, step)
        present = all(warehouse.table_exists(con, *key.path) for key in context.selected_asset_keys)
    if last is not None and last["fingerprint"] == inputs and present:
        note = f"not rebuilt: its inputs, the dbt project and the as-of date are unchanged since run {last['run_id']}"
        context.log.info(f"dbt build skipped; {note}")
        # Dagster wants a multi-asset's outputs in dependency order.
        deps = context.assets_def.asset_deps
        selected = context.selected_asset_keys
        order = TopologicalSorter({key: deps.get(key, set()) & selected for key in sorted(selected)})
        for key in order.static_order():
            yield dg.MaterializeResult(asset_key=key, metadata={"dbt": dg.MetadataValue.text(note)})
        selected_checks = {key.to_user_string() for key in context.selected_asset_check_keys}
        for check in last["payload"]["checks"]:
            if f"{check['asset']}:{check['name']}" in selected_checks:
                yield dg.AssetCheckResult(
                    asset_key=dg.AssetKey.from_user_string(check["asset"]),
                    check_name=check["name"],
                    passed=check["passed"],
                    severity=dg.AssetCheckSeverity(check["severity"]),
                    metadata={
                        "dbt": dg.MetadataValue.text(f"outcome carried over from run {last['run_id']}")
                    },
                )
        return
    checks = []
    for event in dbt.cli(["build"], context=context).stream():
        if isinstance(event, dg.AssetCheckResult):
            checks.append(
                {
                    "asset": event.asset_key.to_user_string(),
                    "name": event.check_name,
                    "passed": event.passed,
                    "severity": event.severity.value,
                }
            )
        yield event
    # Reached only when dbt built everything: a failed build raises at the end of the stream.
    with warehouse.connect(settings.warehouse_path) as con:
        warehouse.save_step_state(con, step, inputs, context.run_id, {"checks": checks})


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    select="path:models/staging path:models/intermediate",
    dagster_dbt_translator=translator,
    pool=WAREHOUSE_POOL,
    name="dbt_staging_models",
)
def dbt_staging_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, cdp: CdpSettings):
    """Staging views and the person records identity resolution reads."""
    yield from _build(context, dbt, cdp)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    select="path:models/marts",
    dagster_dbt_translator=translator,
    pool=WAREHOUSE_POOL,
    name="dbt_mart_models",
)
def dbt_mart_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, cdp: CdpSettings):
    """Golden profile, touchpoints, health, journey, audiences and the CRM sync feed."""
    yield from _build(context, dbt, cdp)


# Each stall-alert table, the id column naming an alert, and the header it gets in the check's table.
_STALL_ALERTS = {
    "opportunity_stall_alerts": ("crm_opportunity_id", "opportunity"),
    "customer_stall_alerts": ("customer_id", "customer"),
}
_CADENCE_ALERTS = dg.AssetKey(["marts", "account_contact_cadence_alerts"])


@dg.multi_asset_check(
    specs=[
        *(
            dg.AssetCheckSpec(
                name="no_new_stall_alerts",
                asset=dg.AssetKey(["marts", table]),
                description=f"Warns when {label}s crossed their stall limit on the as-of date "
                "(new since the last working day).",
            )
            for table, (_, label) in _STALL_ALERTS.items()
        ),
        dg.AssetCheckSpec(
            name="no_contact_cadence_alerts",
            asset=_CADENCE_ALERTS,
            description="Warns when core accounts fell below the account-team contact cadence in the last "
            "full week (new since the week before).",
        ),
    ],
    can_subset=True,
    pool=WAREHOUSE_POOL,
)
def new_alert_checks(context: dg.AssetCheckExecutionContext, cdp: CdpSettings):
    """Surface the stall and contact-cadence alerts that are new, so sales and success hear of them.

    Args:
        context: The check's context (which of the three tables are selected).
        cdp: Pipeline settings (the warehouse).

    Yields:
        One WARN-severity result per alert table: the new stall alerts by id, stage and quiet working
        days; the core accounts newly below cadence by account id, rule and touches a week.
    """
    with warehouse.connect(cdp.load().warehouse_path) as con:
        for table, (id_column, label) in _STALL_ALERTS.items():
            key = dg.AssetCheckKey(dg.AssetKey(["marts", table]), "no_new_stall_alerts")
            if key not in context.selected_asset_check_keys:
                continue
            rows = con.execute(
                f"SELECT {id_column}, stage, working_days_without_activity, stalled_on = as_of_date "
                f"FROM marts.{table} ORDER BY {id_column}"
            ).fetchall()
            new = [row for row in rows if row[3]]
            lines = [f"| {label} | stage | working days without activity |", "|---|---|---|"]
            lines += [f"| {alert_id} | {stage} | {days} |" for alert_id, stage, days, _ in new]
            yield dg.AssetCheckResult(
                asset_key=dg.AssetKey(["marts", table]),
                check_name="no_new_stall_alerts",
                passed=not new,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "open_alerts": len(rows),
                    "new_alerts": len(new),
                    "new": dg.MetadataValue.md("\n".join(lines)),
                },
            )
        if (
            dg.AssetCheckKey(_CADENCE_ALERTS, "no_contact_cadence_alerts")
            in context.selected_asset_check_keys
        ):
            yield _cadence_result(con)


def _cadence_result(con: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    """The WARN result listing the new alerts of ``marts.account_contact_cadence_alerts`` (account ids only)."""
    rows = con.execute(
        "SELECT crm_account_id, alert_rule, avg_touches_per_week, is_new "
        "FROM marts.account_contact_cadence_alerts ORDER BY crm_account_id"
    ).fetchall()
    new = [row for row in rows if row[3]]
    lines = ["| account | rule | touches a week |", "|---|---|---|"]
    lines += [f"| {account} | {rule} | {average} |" for account, rule, average, _ in new]
    return dg.AssetCheckResult(
        asset_key=_CADENCE_ALERTS,
        check_name="no_contact_cadence_alerts",
        passed=not new,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "open_alerts": len(rows),
            "new_alerts": len(new),
            "new": dg.MetadataValue.md("\n".join(lines)),
        },
    )
