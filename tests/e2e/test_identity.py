"""Identity end to end: id history and trace, explanations, offline dashboards, manual training."""

import json
import re
import shutil

import duckdb
from typer.testing import CliRunner

import governance
from connectors import warehouse
from orchestration.cli import app


def test_first_run_records_one_created_event_per_customer(wh):
    history = wh("SELECT event, customer_id, records, reason FROM identity.customer_id_history")
    clusters = wh("SELECT customer_id, count(*) AS n FROM identity.customer_clusters GROUP BY 1")
    assert set(history["event"]) == {"created"}
    assert sorted(history["customer_id"]) == sorted(clusters["customer_id"])
    assert history["records"].sum() == clusters["n"].sum()


def test_trace_reports_a_current_customer_and_refuses_an_unknown_id(wh):
    customer_id = wh("SELECT min(customer_id) AS c FROM identity.customer_clusters")["c"].iloc[0]
    result = CliRunner().invoke(app, ["identity", "trace", customer_id])
    assert result.exit_code == 0, result.output
    assert f"{customer_id} is now {customer_id}" in result.output
    unknown = CliRunner().invoke(app, ["identity", "trace", "cus_0000000000000000"])
    assert unknown.exit_code == 2
    assert "never issued" in unknown.output


def test_the_packaged_overrides_file_passes_the_check():
    result = CliRunner().invoke(app, ["identity", "check-overrides"])
    assert result.exit_code == 0, result.output
    assert "overrides valid: 0 must_link, 0 cannot_link, 0 split" in result.output


def test_every_record_is_explained_by_a_rule_a_model_score_or_standing_alone(wh):
    explained = wh(
        "SELECT e.rule, e.evidence, e.match_probability, e.customer_id = c.customer_id AS same_customer "
        "FROM identity.customer_match_explanations e JOIN identity.customer_clusters c USING (record_id)"
    )
    records = wh("SELECT count(*) AS n FROM identity.customer_clusters")["n"].iloc[0]
    assert len(explained) == records and explained["same_customer"].all()
    model = explained[explained["rule"] == "model"]
    assert len(model) > 0 and model["evidence"].str.contains("phone_tail|email_norm|first_name").all()
    assert (model["match_probability"] >= 0.95).all()
    assert {"same_email", "alone"} <= set(explained["rule"])


def test_steward_dashboards_are_written_and_make_no_network_request(env, first_run):
    reports = env["root"] / "reports" / "identity"
    for name in ("comparison_viewer.html", "cluster_studio.html"):
        html = (reports / name).read_text(encoding="utf-8")
        assert len(html) > 100_000
        assert not re.search(r"<(script|link)\b[^>]*(src|href)=[\"']https?://", html, re.IGNORECASE)


def test_training_is_manual_and_writes_a_model_that_prediction_can_load(
    env, first_run, tmp_path, monkeypatch
):
    import dagster as dg

    import identity
    from orchestration.assets.identity import person_model
    from orchestration.definitions import defs
    from orchestration.resources import CdpSettings

    pipeline = defs.resolve_job_def("cdp_pipeline").asset_layer.executable_asset_keys
    assert dg.AssetKey(["identity", "person_model"]) not in pipeline
    assert dg.AssetKey(["identity", "customer_clusters"]) in pipeline

    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(env["CDP_WAREHOUSE_PATH"], copy)
    target = tmp_path / "person_model.json"
    monkeypatch.setenv("CDP_WAREHOUSE_PATH", str(copy))
    monkeypatch.setenv("CDP_IDENTITY_MODEL", str(target))
    result = dg.materialize([person_model], resources={"cdp": CdpSettings()})
    assert result.success
    model = identity.load_model(target)
    assert [c["output_column_name"] for c in model["comparisons"]] == [
        "email_norm",
        "phone_tail",
        "first_name_canonical_last_name_norm",
        "company_norm",
    ]
    with duckdb.connect(str(copy), read_only=True) as con:
        records = con.execute("SELECT * FROM intermediate.int_person_records").df()
    assert identity.resolve(records, model_path=target, overrides=[]).stats["customers"] < len(records)


def test_new_records_are_linked_incrementally_and_the_weekly_reconcile_keeps_every_id(
    env, first_run, tmp_path, monkeypatch
):
    import dagster as dg

    from orchestration.assets.identity import IDENTITY_MODE_TAG, customer_identity
    from orchestration.resources import CdpSettings

    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(env["CDP_WAREHOUSE_PATH"], copy)
    monkeypatch.setenv("CDP_WAREHOUSE_PATH", str(copy))
    with duckdb.connect(str(copy)) as con:
        known = con.execute(
            "SELECT r.email, c.customer_id FROM intermediate.int_person_records r "
            "JOIN identity.customer_clusters c USING (record_id) "
            "WHERE r.source = 'crm_contacts' AND r.email IS NOT NULL ORDER BY r.record_id LIMIT 1"
        ).fetchone()
        before = con.execute("SELECT record_id, customer_id FROM identity.customer_clusters").df()
        con.execute(
            "INSERT INTO intermediate.int_person_records BY NAME "
            "SELECT 'lead_forms:inc-1' AS record_id, 'lead_forms' AS source, 'inc-1' AS source_record_id, "
            "upper(?) AS email "
            "UNION ALL SELECT 'lead_forms:inc-2', 'lead_forms', 'inc-2', 'quinn.stranger@nowhere-new.io'",
            [known[0]],
        )

    def run(tags: dict | None = None) -> dict:
        result = dg.materialize([customer_identity], resources={"cdp": CdpSettings()}, tags=tags)
        assert result.success
        with duckdb.connect(str(copy), read_only=True) as con:
            last = con.execute(
                "SELECT mode, new_records FROM identity.resolution_runs ORDER BY finished_at DESC LIMIT 1"
            ).fetchone()
            now = con.execute("SELECT record_id, customer_id FROM identity.customer_clusters").df()
        return {"mode": last[0], "new": last[1], "customer": now.set_index("record_id")["customer_id"]}

    incremental = run()
    assert (incremental["mode"], incremental["new"]) == ("incremental", 2)
    assert incremental["customer"]["lead_forms:inc-1"] == known[1]
    assert incremental["customer"]["lead_forms:inc-2"] not in set(before["customer_id"])
    kept = incremental["customer"][before["record_id"]].to_numpy() == before["customer_id"].to_numpy()
    assert kept.all()

    assert run()["mode"] == "unchanged"

    reconciled = run({IDENTITY_MODE_TAG: "full"})
    assert reconciled["mode"] == "full"
    assert (reconciled["customer"][incremental["customer"].index] == incremental["customer"]).all()


def test_the_first_resolution_is_on_the_audit_chain(env, wh):
    with duckdb.connect(env["CDP_WAREHOUSE_PATH"], read_only=True) as con:
        assert governance.verify(con).intact
        resolutions = governance.records(con, action="identity.resolve", limit=100)
        fingerprint = warehouse.table_fingerprint(con, "identity", "customer_clusters")
    first = resolutions[-1]
    details = json.loads(first["details"]) if isinstance(first["details"], str) else first["details"]
    customers = wh("SELECT count(DISTINCT customer_id) AS n FROM identity.customer_clusters")["n"][0]
    assert details["mode"] == "full" and details["id_events"] == {"created": customers}
    assert first["before_digest"] is None
    assert resolutions[0]["after_digest"] == governance.digest(fingerprint)
