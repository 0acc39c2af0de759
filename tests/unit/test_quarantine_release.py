"""Releasing quarantined rows: fixed or accepted rows re-enter the raw table on the next ingest."""

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from connectors import warehouse
from connectors.crm import CRM_TABLES
from orchestration.assets.ingest import crm_drift, crm_row_rejects
from orchestration.cli import app
from orchestration.cli_common import console
from tests.unit import test_quarantine_kinds as kinds
from tests.unit.test_quarantine_kinds import append_csv_row, csv_rows, ingest, query

# The same scratch landing folder and warehouse as the bad-row tests.
sample = kinds.sample
landing = kinds.landing

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    monkeypatch.setattr(console, "width", 250)


def cli(*args: str):
    return runner.invoke(app, ["quality", "quarantine", *args])


def test_fixed_row_is_loaded_on_the_next_run_and_leaves_the_open_quarantine(landing, monkeypatch):
    monkeypatch.setenv("USER", "steward-ann")
    path = landing / "leads" / "web_form.csv"
    good = len(csv_rows(path))
    line, _ = append_csv_row(path, {"submission_id": "99001", "email": "jane.doe.at.example.com"})
    ingest(landing, "lead_forms")

    listed = cli("list", "--source", "lead_forms")
    assert listed.exit_code == 0, listed.output
    assert "invalid_email" in listed.output and "1 row(s)" in listed.output
    assert "jane.doe.at.example.com" not in listed.output, "values are shown only with --show-rows"
    assert "jane.doe.at.example.com" in cli("list", "--show-rows").output

    released = cli(
        "release", "--source", "lead_forms", "--line", str(line), "--fix", "email=jane.doe@example.com"
    )
    assert released.exit_code == 0, released.output
    marked = query(
        landing, "SELECT released_by, release_action, released_at FROM quarantine.raw_marketing__lead_forms"
    )
    assert marked[["released_by", "release_action"]].values.tolist() == [["steward-ann", "fix"]]
    assert "0 row(s)" in cli("list").output, "a released row is no longer open"

    ingest(landing, "lead_forms")
    row = query(landing, "SELECT * FROM raw_marketing.lead_forms WHERE lead_id = 'web_form:99001'")
    assert row[["email", "_source_line", "_release_action"]].values.tolist() == [
        ["jane.doe@example.com", line, "fix"]
    ]
    assert query(landing, "SELECT count(*) AS n FROM raw_marketing.lead_forms")["n"][0] >= good + 1
    assert query(landing, "SELECT count(*) AS n FROM quarantine.raw_marketing__lead_forms")["n"][0] == 0
    ledger = query(
        landing,
        "SELECT source_file, source_line, rule, action, fixes, released_by FROM quality.released_rows",
    )
    assert ledger.values.tolist() == [
        [
            "leads/web_form.csv",
            line,
            "invalid_email",
            "fix",
            '{"email": "jane.doe@example.com"}',
            "steward-ann",
        ]
    ]


def test_accepted_row_bypasses_the_row_rule_and_is_flagged(landing):
    append_csv_row(landing / "leads" / "web_form.csv", {"submission_id": "99001", "email": "no-at-sign"})
    ingest(landing, "lead_forms")
    assert cli("release", "--source", "raw_marketing.lead_forms", "--rule", "invalid_email").exit_code == 0
    ingest(landing, "lead_forms")
    row = query(
        landing,
        "SELECT email, _release_action FROM raw_marketing.lead_forms WHERE lead_id = 'web_form:99001'",
    )
    assert row.values.tolist() == [["no-at-sign", "accept"]]
    others = query(
        landing, "SELECT count(*) AS n FROM raw_marketing.lead_forms WHERE _release_action IS NOT NULL"
    )
    assert others["n"][0] == 1


def test_a_fix_that_still_fails_stays_quarantined(landing):
    line, _ = append_csv_row(
        landing / "service" / "nps_responses.csv", {"response_id": "R_x", "score": "ten"}
    )
    ingest(landing, "nps_responses")
    assert cli("release", "--source", "nps_responses", "--all", "--fix", "score=eleven").exit_code == 0
    ingest(landing, "nps_responses")
    again = query(
        landing, "SELECT source_line, rule, raw_value, released_at FROM quarantine.raw_service__nps_responses"
    )
    assert again[["source_line", "rule", "raw_value"]].values.tolist() == [[line, "int_parsing", "eleven"]]
    assert again["released_at"].isna().all(), "the row is open again for the steward"


def test_release_refuses_what_it_cannot_do(landing):
    append_csv_row(landing / "service" / "nps_responses.csv", {"response_id": "R_x", "score": "ten"})
    ingest(landing, "nps_responses")
    refused = cli("release", "--source", "nps_responses", "--rule", "int_parsing")
    assert refused.exit_code == 2 and "--fix FIELD=VALUE" in refused.output
    assert cli("release", "--source", "nps_responses", "--rule", "int_parsing", "--all").exit_code == 2
    assert "no open quarantined row" in cli("release", "--source", "nps_responses", "--line", "1").output
    assert "no quarantine for source 'crm'" in cli("list", "--source", "crm").output
    assert cli("release", "--source", "nps_responses", "--all", "--fix", "score").exit_code == 2
    unknown = cli("release", "--source", "nps_responses", "--all", "--fix", "nps_score=9")
    assert unknown.exit_code == 2 and "nps_score: no such field" in unknown.output


def test_release_does_not_apply_once_the_row_changed_in_the_file(landing):
    path = landing / "leads" / "web_form.csv"
    line, _ = append_csv_row(path, {"submission_id": "99001", "email": "bad"})
    ingest(landing, "lead_forms")
    assert (
        cli(
            "release", "--source", "lead_forms", "--line", str(line), "--fix", "email=ok@example.com"
        ).exit_code
        == 0
    )
    text = path.read_text(encoding="utf-8").replace(",bad,", ",still-bad,")
    path.write_text(text, encoding="utf-8")
    ingest(landing, "lead_forms")
    quarantined = query(landing, "SELECT raw_value, released_at FROM quarantine.raw_marketing__lead_forms")
    assert quarantined["raw_value"].tolist() == ["still-bad"] and quarantined["released_at"].isna().all()


def test_crm_rows_failing_row_rules_are_split_off():
    contacts = next(t for t in CRM_TABLES if t.name == "contacts")
    frame = pd.DataFrame(
        {
            "contact_id": pd.array([1, None, 3, 4], dtype="Int64"),
            "email": ["a@x.com", "b@x.com", "not-an-email", None],
            "created_at": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-01-01", "2026-02-01"]),
            "updated_at": pd.to_datetime(["2026-01-02", "2026-01-02", "2026-01-02", "2026-01-15"]),
        }
    )
    good, rejects = crm_row_rejects(frame, contacts, run_id="r1")
    assert good["contact_id"].tolist() == [1]
    assert rejects[["record_key", "field", "rule"]].fillna("(none)").values.tolist() == [
        ["(none)", "contact_id", "missing_key"],
        ["3", "email", "invalid_email"],
        ["4", "updated_at", "updated_before_created"],
    ]
    assert set(rejects["source_file"]) == {"crm:contacts"} and set(rejects["run_id"]) == {"r1"}


def test_crm_rows_with_implausible_event_times_are_split_off_but_future_plans_are_not():
    from datetime import date

    from connectors.files import IngestLimits

    opportunities = next(t for t in CRM_TABLES if t.name == "opportunities")
    frame = pd.DataFrame(
        {
            "opportunity_id": pd.array([1, 2, 3], dtype="Int64"),
            "created_at": pd.to_datetime(["2026-01-01", "1970-01-01", "2026-01-01"]),
            "updated_at": pd.to_datetime(["2026-01-02", "2026-01-02", "2031-01-02"]),
            "close_date": pd.to_datetime(["2027-06-30", "2026-03-01", "2026-03-01"]),
        }
    )
    limits = IngestLimits.around(date(2026, 11, 1))
    good, rejects = crm_row_rejects(frame, opportunities, run_id="r1", limits=limits)
    assert good["opportunity_id"].tolist() == [1], "a close date next year is a plan, not an error"
    assert rejects[["record_key", "field", "rule"]].values.tolist() == [
        ["2", "created_at", "implausible_date"],
        ["3", "updated_at", "implausible_date"],
    ]


def test_crm_drift_reports_new_missing_and_retyped_columns():
    contacts = next(t for t in CRM_TABLES if t.name == "contacts")
    with duckdb.connect() as con:
        con.execute("CREATE SCHEMA raw_crm")
        con.execute(
            "CREATE TABLE raw_crm.contacts (contact_id BIGINT, email VARCHAR, score INTEGER, _loaded_at TIMESTAMP)"
        )
        incoming = pd.DataFrame(
            {"contact_id": [1], "email": ["a@x.com"], "score": ["high"], "region": ["EU"]}
        )
        drift = crm_drift(con, contacts, incoming)
    assert [(d["column"], d["change"]) for d in drift] == [("region", "new"), ("score", "retyped")]
    assert drift[1]["detail"] == "INTEGER -> VARCHAR"
    with duckdb.connect() as con:
        assert crm_drift(con, contacts, incoming) == [], "no drift on the first load"


def test_crm_drift_reports_a_column_gone():
    contacts = next(t for t in CRM_TABLES if t.name == "contacts")
    with duckdb.connect() as con:
        con.execute("CREATE SCHEMA raw_crm")
        con.execute("CREATE TABLE raw_crm.contacts (contact_id BIGINT, email VARCHAR)")
        drift = crm_drift(con, contacts, pd.DataFrame({"contact_id": pd.array([1], dtype="Int64")}))
    assert drift == [
        {
            "source_file": "crm:contacts",
            "column": "email",
            "change": "missing",
            "detail": "was VARCHAR; kept, no new values",
        }
    ]


def test_crm_quarantine_is_kept_across_incremental_loads():

    contacts = next(t for t in CRM_TABLES if t.name == "contacts")
    frame = pd.DataFrame({"contact_id": pd.array([None], dtype="Int64"), "email": ["a@x.com"]})
    _, rejects = crm_row_rejects(frame, contacts, run_id="r1")
    with duckdb.connect() as con:
        assert warehouse.write_quarantine(con, "raw_crm", "contacts", rejects, keep_previous=True) == 1
        assert (
            warehouse.write_quarantine(con, "raw_crm", "contacts", rejects.iloc[0:0], keep_previous=True) == 1
        )
        assert warehouse.write_quarantine(con, "raw_crm", "contacts", rejects, keep_previous=True) == 1


def test_re_read_crm_rows_that_did_not_change_are_not_upserted_again():
    with duckdb.connect() as con:
        con.execute("CREATE SCHEMA raw_crm")
        con.execute(
            "CREATE TABLE raw_crm.contacts AS SELECT * FROM (VALUES "
            "(1, 'a@x.com', TIMESTAMP '2026-01-02', TIMESTAMP '2026-10-01 10:00'), "
            "(2, NULL, TIMESTAMP '2026-01-03', TIMESTAMP '2026-10-01 10:00')) "
            "AS t(contact_id, email, updated_at, _loaded_at)"
        )
        incoming = pd.DataFrame(
            {
                "contact_id": pd.array([1, 2, 3], dtype="Int64"),
                "email": pd.array(["a@x.com", None, "c@x.com"], dtype="string"),
                "updated_at": pd.to_datetime(["2026-01-02", "2026-01-04", "2026-01-04"]),
            }
        )
        changed = warehouse.changed_rows(con, "raw_crm", "contacts", incoming)
    assert changed["contact_id"].tolist() == [2, 3], "row 1 is as stored; 2 was updated; 3 is new"
