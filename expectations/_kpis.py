"""Data-quality KPIs per source and per layer, measured on the warehouse after a run.

One row per KPI and table: completeness (required fields filled), validity (share of rows passing
the row rules, quarantined rows included), uniqueness (keys), timeliness (hours since the newest
record), consistency (one customer's email, phone and company agreeing across sources) and
carry-through of attribution fields from ``raw_marketing.events`` to ``marts.fct_touchpoints``,
and per file source the share of re-delivered rows dropped at ingest and the empty files of its
latest load.
"""

from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandas as pd

from connectors import warehouse

KPI_COLUMNS = ["run_id", "measured_at", "layer", "table", "kpi", "value", "target", "passed"]
LOWER_IS_BETTER = {"freshness_hours", "redelivered_share", "empty_files"}

TARGETS = {
    "completeness": 0.95,
    "validity": 0.99,
    "uniqueness": 1.0,
    "freshness_hours": 48.0,
    "consistency": 0.9,
    "carry_through": 0.999,
    # Re-delivered rows are dropped at ingest; a high share means a source re-sends whole exports.
    "redelivered_share": 0.05,
    "empty_files": 0.0,
}


@dataclass(frozen=True)
class TableSpec:
    """What the KPIs measure on one table.

    Attributes:
        layer: raw, intermediate, identity or marts.
        schema: Warehouse schema.
        table: Table name.
        required: Columns that must be filled (completeness).
        key: Column that must be unique, or None when rows have no key of their own.
        timestamp: Column whose newest value dates the data (timeliness), or None.
    """

    layer: str
    schema: str
    table: str
    required: tuple[str, ...]
    key: str | None
    timestamp: str | None


TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "raw", "raw_marketing", "events", ("message_id", "type", "occurred_at"), "message_id", "occurred_at"
    ),
    TableSpec(
        "raw", "raw_marketing", "email_activity", ("email", "campaign_id", "event"), None, "occurred_at"
    ),
    TableSpec(
        "raw", "raw_marketing", "lead_forms", ("lead_id", "submitted_at", "email"), "lead_id", "submitted_at"
    ),
    TableSpec(
        "raw",
        "raw_service",
        "tickets",
        ("ticket_id", "created_at", "requester_email"),
        "ticket_id",
        "created_at",
    ),
    TableSpec(
        "raw",
        "raw_service",
        "nps_responses",
        ("response_id", "score", "email"),
        "response_id",
        "responded_at",
    ),
    TableSpec(
        "raw", "raw_consent", "consent_log", ("consent_id", "purpose", "status"), "consent_id", "recorded_at"
    ),
    TableSpec("raw", "raw_crm", "users", ("user_id", "email"), "user_id", "updated_at"),
    TableSpec("raw", "raw_crm", "accounts", ("account_id", "name", "domain"), "account_id", "updated_at"),
    TableSpec(
        "raw", "raw_crm", "contacts", ("contact_id", "email", "account_id"), "contact_id", "updated_at"
    ),
    TableSpec(
        "raw",
        "raw_crm",
        "opportunities",
        ("opportunity_id", "account_id", "stage"),
        "opportunity_id",
        "updated_at",
    ),
    TableSpec("raw", "raw_crm", "activities", ("activity_id", "activity_type"), "activity_id", "updated_at"),
    TableSpec(
        "intermediate",
        "intermediate",
        "int_person_records",
        ("record_id", "source"),
        "record_id",
        "observed_at",
    ),
    TableSpec("identity", "identity", "customer_clusters", ("record_id", "customer_id"), "record_id", None),
    TableSpec(
        "marts",
        "marts",
        "dim_customers",
        ("customer_id", "email", "company_name"),
        "customer_id",
        "last_seen_at",
    ),
    TableSpec(
        "marts",
        "marts",
        "fct_touchpoints",
        ("touchpoint_id", "occurred_at", "channel"),
        "touchpoint_id",
        "occurred_at",
    ),
)

# Attribution fields: marts.fct_touchpoints column -> raw_marketing.events column it is carried from.
ATTRIBUTION_FIELDS = {
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "utm_term": "utm_term",
    "utm_content": "utm_content",
    "user_agent": "context_user_agent",
    "ip_address": "context_ip",
    "locale": "context_locale",
}

# Person attributes compared across one customer's source records, with the SQL that normalises them.
_CONSISTENCY = {
    "email": "lower(trim(email))",
    "phone": "nullif(right(regexp_replace(phone, '[^0-9]', '', 'g'), 9), '')",
    "company": "nullif(regexp_replace(lower(company_name), '[^a-z0-9]', '', 'g'), '')",
}


def table_specs() -> tuple[TableSpec, ...]:
    """Return the tables measured: ``TABLES`` plus any CRM table it does not list (key and freshness only).

    Returns:
        The table specs.
    """
    from connectors.crm import CRM_TABLES

    listed = {(s.schema, s.table) for s in TABLES}
    extra = tuple(
        TableSpec("raw", "raw_crm", t.name, (t.key,), t.key, "updated_at")
        for t in CRM_TABLES
        if ("raw_crm", t.name) not in listed
    )
    return TABLES + extra


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    return {r[0] for r in con.execute(f"DESCRIBE {warehouse.qualified(schema, table)}").fetchall()}


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> float | None:
    value = con.execute(sql).fetchall()[0][0]
    return None if value is None else float(value)


def _table_kpis(con: duckdb.DuckDBPyConnection, spec: TableSpec, reference: datetime) -> list[dict]:
    name = warehouse.qualified(spec.schema, spec.table)
    columns = _columns(con, spec.schema, spec.table)
    rows = int(_scalar(con, f"SELECT count(*) FROM {name}") or 0)
    where = f"{spec.schema}.{spec.table}"
    out = []
    required = [c for c in spec.required if c in columns]
    if rows and required:
        filled = " + ".join(f'count("{c}")' for c in required)
        value = _scalar(con, f"SELECT ({filled}) / ({rows} * {len(required)}) FROM {name}")
        out.append((where, "completeness", value))
    if spec.key and spec.key in columns and rows:
        value = _scalar(con, f'SELECT count(DISTINCT "{spec.key}") / count(*) FROM {name}')
        out.append((where, "uniqueness", value))
    if spec.timestamp and spec.timestamp in columns:
        newest = con.execute(f'SELECT max("{spec.timestamp}") FROM {name}').fetchall()[0][0]
        value = None if newest is None else (reference - newest).total_seconds() / 3600
        out.append((where, "freshness_hours", value))
    if spec.layer == "raw":
        out.append((where, "validity", _validity(con, spec, rows)))
    return [{"layer": spec.layer, "table": t, "kpi": k, "value": v} for t, k, v in out]


def _validity(con: duckdb.DuckDBPyConnection, spec: TableSpec, rows: int) -> float | None:
    quarantine = f"{spec.schema}__{spec.table}"
    rejected = 0
    if warehouse.table_exists(con, "quarantine", quarantine):
        open_rows = (
            "released_at IS NULL" if "released_at" in _columns(con, "quarantine", quarantine) else "true"
        )
        rejected = int(_scalar(con, f"SELECT count(*) FROM quarantine.{quarantine} WHERE {open_rows}") or 0)
    return None if rows + rejected == 0 else rows / (rows + rejected)


def _file_deliveries(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Re-delivered share and empty files of each file source, from its latest load."""
    if not warehouse.table_exists(con, warehouse.QUALITY_SCHEMA, "ingest_files"):
        return []
    measured = con.execute(
        """
        WITH latest AS (
            SELECT source_schema, source_table, arg_max(run_id, loaded_at) AS run_id
            FROM quality.ingest_files GROUP BY ALL
        )
        SELECT f.source_schema || '.' || f.source_table,
               sum(f.duplicates_dropped) / nullif(sum(f.data_rows), 0),
               count(*) FILTER (WHERE f.is_empty)
        FROM quality.ingest_files AS f JOIN latest USING (source_schema, source_table, run_id)
        GROUP BY ALL ORDER BY 1
        """
    ).fetchall()
    return [
        {"layer": "raw", "table": table, "kpi": kpi, "value": None if value is None else float(value)}
        for table, share, empty in measured
        for kpi, value in (("redelivered_share", 0.0 if share is None else share), ("empty_files", empty))
    ]


def _consistency(con: duckdb.DuckDBPyConnection) -> list[dict]:
    if not (
        warehouse.table_exists(con, "identity", "customer_clusters")
        and warehouse.table_exists(con, "intermediate", "int_person_records")
    ):
        return []
    out = []
    for attribute, expression in _CONSISTENCY.items():
        value = _scalar(
            con,
            f"""
            WITH normalised AS (
                SELECT c.customer_id, {expression} AS v
                FROM identity.customer_clusters AS c
                JOIN intermediate.int_person_records AS p USING (record_id)
            ), per_customer AS (
                SELECT customer_id, count(DISTINCT v) AS variants
                FROM normalised WHERE v IS NOT NULL
                GROUP BY customer_id HAVING count(v) >= 2
            )
            SELECT avg(CASE WHEN variants = 1 THEN 1.0 ELSE 0.0 END) FROM per_customer
            """,
        )
        out.append(
            {
                "layer": "identity",
                "table": "identity.customer_clusters",
                "kpi": f"consistency_{attribute}",
                "value": value,
            }
        )
    return out


def _carry_through(con: duckdb.DuckDBPyConnection) -> list[dict]:
    if not (
        warehouse.table_exists(con, "marts", "fct_touchpoints")
        and warehouse.table_exists(con, "raw_marketing", "events")
    ):
        return []
    mart = _columns(con, "marts", "fct_touchpoints")
    raw = _columns(con, "raw_marketing", "events")
    out = []
    for mart_column, raw_column in ATTRIBUTION_FIELDS.items():
        value = None
        if mart_column in mart and raw_column in raw:
            value = _scalar(
                con,
                f"""
                SELECT avg(CASE WHEN t."{mart_column}" IS NOT NULL THEN 1.0 ELSE 0.0 END)
                FROM raw_marketing.events AS e
                JOIN marts.fct_touchpoints AS t ON t.touchpoint_id = 'web:' || e.message_id
                WHERE e."{raw_column}" IS NOT NULL
                """,
            )
        out.append(
            {
                "layer": "marts",
                "table": "marts.fct_touchpoints",
                "kpi": f"carry_through_{mart_column}",
                "value": value,
            }
        )
    return out


def target_for(kpi: str) -> float:
    """Return the target of a KPI (``consistency_email`` has the ``consistency`` target, and so on).

    Args:
        kpi: The KPI name.

    Returns:
        The target value.
    """
    for name, target in TARGETS.items():
        if kpi == name or kpi.startswith(f"{name}_"):
            return target
    raise KeyError(f"no target for KPI '{kpi}'; add it to TARGETS")


def passed(kpi: str, value: float | None, target: float) -> bool:
    """Tell whether a KPI value meets its target (lower is better for hours, higher otherwise).

    Args:
        kpi: The KPI name.
        value: The measured value, or None when it could not be measured.
        target: The target.

    Returns:
        True when measured and on target.
    """
    if value is None or pd.isna(value):
        return False
    return value <= target if kpi in LOWER_IS_BETTER else value >= target - 1e-12


def compute_kpis(con: duckdb.DuckDBPyConnection, run_id: str, reference: datetime) -> pd.DataFrame:
    """Measure every KPI on the warehouse.

    Args:
        con: Open warehouse connection.
        run_id: The pipeline run the measurement belongs to.
        reference: The time freshness is measured against (the marts' as-of time, or now).

    Returns:
        One row per KPI and table (``KPI_COLUMNS``); tables not built yet are left out, a KPI that
        cannot be measured (e.g. a field the mart does not carry) has no value and fails.
    """
    rows: list[dict] = []
    for spec in table_specs():
        if warehouse.table_exists(con, spec.schema, spec.table):
            rows.extend(_table_kpis(con, spec, reference))
    rows.extend(_consistency(con))
    rows.extend(_file_deliveries(con))
    rows.extend(_carry_through(con))
    frame = pd.DataFrame(rows, columns=["layer", "table", "kpi", "value"])
    frame["value"] = frame["value"].astype("Float64")
    frame["target"] = [target_for(k) for k in frame["kpi"]]
    frame["passed"] = [
        passed(k, v, t) for k, v, t in zip(frame["kpi"], frame["value"], frame["target"], strict=True)
    ]
    frame.insert(0, "measured_at", pd.Timestamp.now("UTC").tz_localize(None).floor("us"))
    frame.insert(0, "run_id", run_id)
    return frame[KPI_COLUMNS].astype(
        {"passed": "boolean", "target": "float64", "measured_at": "datetime64[us]"}
    )
