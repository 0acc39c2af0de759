"""Quality KPIs on a small hand-made warehouse whose every figure is known."""

from datetime import datetime

import duckdb
import pandas as pd
import pytest

from expectations import _kpis


@pytest.fixture
def con():
    with duckdb.connect() as connection:
        connection.execute("""
            CREATE SCHEMA raw_service; CREATE SCHEMA quarantine; CREATE SCHEMA identity;
            CREATE SCHEMA intermediate; CREATE SCHEMA raw_marketing; CREATE SCHEMA marts;
            CREATE TABLE raw_service.tickets AS SELECT * FROM (VALUES
                ('1', TIMESTAMP '2026-10-30 00:00', 'a@x.com'),
                ('2', TIMESTAMP '2026-10-31 00:00', NULL),
                ('2', TIMESTAMP '2026-10-31 00:00', 'b@x.com'),
                ('3', TIMESTAMP '2026-11-01 00:00', 'c@x.com')
            ) AS t(ticket_id, created_at, requester_email);
            CREATE TABLE quarantine.raw_service__tickets AS SELECT * FROM (VALUES
                ('invalid_email', NULL::TIMESTAMP), ('invalid_email', TIMESTAMP '2026-11-01 10:00')
            ) AS q(rule, released_at);
            CREATE TABLE intermediate.int_person_records AS SELECT * FROM (VALUES
                ('r1', 'crm', 'a@x.com', '+1 617 894 3378', 'Acme Inc'),
                ('r2', 'web', 'A@X.com ', '(617) 894-3378', 'ACME inc.'),
                ('r3', 'crm', 'b@x.com', NULL, 'Beta'),
                ('r4', 'nps', 'c@x.com', NULL, NULL),
                ('r5', 'web', 'solo@x.com', '555 0100', 'Solo')
            ) AS p(record_id, source, email, phone, company_name);
            CREATE TABLE identity.customer_clusters AS SELECT * FROM (VALUES
                ('r1', 'A'), ('r2', 'A'), ('r3', 'B'), ('r4', 'B'), ('r5', 'C')
            ) AS c(record_id, customer_id);
            CREATE TABLE raw_marketing.events AS SELECT * FROM (VALUES
                ('m1', 'google', 'Mozilla'), ('m2', 'google', 'Mozilla'),
                ('m3', 'linkedin', 'Mozilla'), ('m4', 'google', 'Mozilla'), ('m5', NULL, NULL)
            ) AS e(message_id, utm_source, context_user_agent);
            CREATE TABLE marts.fct_touchpoints AS SELECT * FROM (VALUES
                ('web:m1', 'google'), ('web:m2', 'google'), ('web:m3', NULL), ('web:m5', NULL)
            ) AS t(touchpoint_id, utm_source);
        """)
        yield connection


def _kpi(frame: pd.DataFrame, table: str, kpi: str) -> pd.Series:
    rows = frame[(frame["table"] == table) & (frame["kpi"] == kpi)]
    assert len(rows) == 1, f"expected one {kpi} row for {table}, got {len(rows)}"
    return rows.iloc[0]


def test_table_kpis_completeness_uniqueness_freshness_validity(con):
    frame = _kpis.compute_kpis(con, "run-1", reference=datetime(2026, 11, 2))
    tickets = "raw_service.tickets"
    assert _kpi(frame, tickets, "completeness")["value"] == pytest.approx(11 / 12)
    assert _kpi(frame, tickets, "uniqueness")["value"] == pytest.approx(3 / 4)
    assert not _kpi(frame, tickets, "uniqueness")["passed"]
    assert _kpi(frame, tickets, "freshness_hours")["value"] == pytest.approx(24.0)
    assert _kpi(frame, tickets, "freshness_hours")["passed"], "24 h is within the 48 h target"
    validity = _kpi(frame, tickets, "validity")
    assert validity["value"] == pytest.approx(4 / 5), "the released quarantine row no longer counts"
    assert validity["target"] == 0.99 and not validity["passed"]
    assert set(frame["run_id"]) == {"run-1"} and list(frame.columns) == _kpis.KPI_COLUMNS


def test_consistency_compares_normalised_values_of_customers_with_several_records(con):
    frame = _kpis.compute_kpis(con, "run-1", reference=datetime(2026, 11, 2))
    clusters = "identity.customer_clusters"
    assert _kpi(frame, clusters, "consistency_email")["value"] == pytest.approx(0.5)
    assert _kpi(frame, clusters, "consistency_phone")["value"] == pytest.approx(1.0)
    assert _kpi(frame, clusters, "consistency_company")["value"] == pytest.approx(1.0)
    assert set(frame[frame["table"] == clusters]["layer"]) == {"identity"}


def test_carry_through_of_attribution_fields_and_fields_the_mart_lacks(con):
    frame = _kpis.compute_kpis(con, "run-1", reference=datetime(2026, 11, 2))
    source = _kpi(frame, "marts.fct_touchpoints", "carry_through_utm_source")
    assert source["value"] == pytest.approx(2 / 3) and source["target"] == 0.999 and not source["passed"]
    device = _kpi(frame, "marts.fct_touchpoints", "carry_through_user_agent")
    assert pd.isna(device["value"]) and not device["passed"], (
        "the mart lacks the column: not measured, failed"
    )


def test_targets_and_direction():
    assert _kpis.target_for("consistency_email") == 0.9
    assert _kpis.target_for("carry_through_utm_term") == 0.999
    assert _kpis.passed("freshness_hours", 47.0, 48.0) and not _kpis.passed("freshness_hours", 49.0, 48.0)
    assert _kpis.passed("validity", 0.999, 0.99) and not _kpis.passed("validity", 0.98, 0.99)
    assert not _kpis.passed("validity", None, 0.99)
    with pytest.raises(KeyError, match="add it to TARGETS"):
        _kpis.target_for("timeliness")


def test_redelivered_share_and_empty_files_come_from_each_source_s_latest_load(con):
    from connectors import warehouse

    def stat(file, rows, dropped, empty=False):
        return {
            "source_file": file,
            "encoding": "utf-8-sig",
            "data_rows": rows,
            "rows_loaded": rows - dropped,
            "rows_quarantined": 0,
            "duplicates_dropped": dropped,
            "is_empty": empty,
        }

    warehouse.append_ingest_files(con, "old-run", "raw_service", "tickets", [stat("t.csv", 10, 9)])
    warehouse.append_ingest_files(
        con,
        "run-1",
        "raw_service",
        "tickets",
        [stat("t1.csv", 30, 0), stat("t2.csv", 10, 10), stat("t3.csv", 0, 0, empty=True)],
    )
    frame = _kpis.compute_kpis(con, "run-1", reference=datetime(2026, 11, 2))
    share = _kpi(frame, "raw_service.tickets", "redelivered_share")
    assert share["value"] == pytest.approx(10 / 40) and not share["passed"]
    empty = _kpi(frame, "raw_service.tickets", "empty_files")
    assert empty["value"] == 1 and not empty["passed"]
