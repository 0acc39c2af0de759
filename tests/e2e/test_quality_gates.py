"""Quality gates on the real pipeline: every suite passes on the clean sample, its outcomes are
recorded, and a failing blocking check stops the marts and the CRM sync while other branches run."""

import shutil

import dagster as dg
import duckdb
import pytest

import expectations

pytestmark = pytest.mark.e2e


def test_every_suite_ran_passed_and_was_recorded(first_run, wh):
    evaluations = {e.check_name: e for e in first_run.get_asset_check_evaluations()}
    names = {spec.name for spec in expectations.SUITES} | {"identity_graph_health"}
    assert names <= set(evaluations)
    assert [n for n in names if not evaluations[n].passed] == []

    recorded = wh(
        "SELECT suite, bool_and(success) AS passed, count(*) AS expectations, any_value(severity) AS severity "
        f"FROM quality.check_results WHERE run_id = '{first_run.run_id}' GROUP BY suite"
    )
    assert set(recorded["suite"]) == names
    assert recorded["passed"].all()
    severity = dict(zip(recorded["suite"], recorded["severity"], strict=True))
    assert severity["crm_contact_scores_quality"] == "error"
    assert severity["identity_graph_health"] == "error"
    assert severity["fct_touchpoints_quality"] == "warn"
    assert recorded["expectations"].sum() > 300
    assert wh("SELECT count(*) AS n FROM quality.check_failures")["n"][0] == 0

    health = wh(
        "SELECT records, customers, largest_cluster, passed FROM quality.identity_health_history "
        f"WHERE run_id = '{first_run.run_id}'"
    )
    clusters = wh(
        "SELECT count(*) AS records, count(DISTINCT customer_id) AS customers FROM identity.customer_clusters"
    )
    assert len(health) == 1 and health["passed"][0]
    assert (health["records"][0], health["customers"][0]) == (
        clusters["records"][0],
        clusters["customers"][0],
    )


def test_a_failing_blocking_check_stops_the_marts_and_the_sync(env, first_run, tmp_path, monkeypatch):
    warehouse_copy = tmp_path / "warehouse.duckdb"
    crm_copy = tmp_path / "crm.sqlite"
    shutil.copy(env["CDP_WAREHOUSE_PATH"], warehouse_copy)
    shutil.copy(env["landing"] / "crm.sqlite", crm_copy)
    with duckdb.connect(str(warehouse_copy)) as con:
        # A last good run that merged far fewer records: this run's identity graph looks like an over-merge.
        con.execute(
            "INSERT INTO quality.identity_health_history "
            "SELECT 'earlier-run', checked_at + INTERVAL 1 SECOND, records, records, 0, 0, 0, 1, true "
            "FROM quality.identity_health_history ORDER BY checked_at DESC LIMIT 1"
        )
        syncs_before = con.execute("SELECT count(*) FROM sync.sync_runs").fetchall()[0][0]
    monkeypatch.setenv("CDP_WAREHOUSE_PATH", str(warehouse_copy))
    monkeypatch.setenv("CDP_CRM_URL", f"sqlite:///{crm_copy}")
    from orchestration.runner import run_pipeline

    result = run_pipeline()

    health = [e for e in result.get_asset_check_evaluations() if e.check_name == "identity_graph_health"]
    assert len(health) == 1 and not health[0].passed
    assert health[0].severity == dg.AssetCheckSeverity.ERROR
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {
        "raw_crm/contacts",
        "raw_marketing/events",
        "staging/stg_crm__contacts",
        "identity/customer_clusters",
    } <= (materialized)
    stopped = {
        "marts/dim_customers",
        "marts/customer_health",
        "marts/crm_contact_scores",
        "crm/contact_health_fields",
    }
    assert stopped & materialized == set()
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM sync.sync_runs").fetchall()[0][0] == syncs_before
        recorded = con.execute(
            "SELECT success, severity, blocking, observed FROM quality.check_results "
            "WHERE run_id = ? AND suite = 'identity_graph_health'",
            [result.run_id],
        ).fetchall()
    assert len(recorded) == 1
    success, severity, blocking, observed = recorded[0]
    assert (success, severity, blocking) == (False, "error", True)
    assert "previous 0.000" in observed

    # The summary of this run must not pass the last run's health and sync figures off as current.
    from orchestration.runner import summary

    sources = summary(result)["sources"]
    assert sources["identity"]["current"] and sources["identity"]["run_id"] == result.run_id
    for section in ("health", "sync"):
        stale = sources[section]
        assert not stale["current"], section
        assert stale["run_id"] not in {None, result.run_id}, "the figures are an earlier run's"
        assert "identity/customer_clusters:identity_graph_health" in stale["reason"]
