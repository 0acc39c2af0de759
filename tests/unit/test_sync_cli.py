"""``cdp sync`` plan, run and dead-letters against a SQLite CRM and a small warehouse."""

import json
import re

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from orchestration.cli import app
from orchestration.cli_common import console
from tests.fakes import hubspot_server


@pytest.fixture
def setup(tmp_path, monkeypatch):
    warehouse = tmp_path / "warehouse.duckdb"
    crm = tmp_path / "crm.sqlite"
    engine = sa.create_engine(f"sqlite:///{crm}")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE contacts (contact_id INTEGER PRIMARY KEY, cdp_customer_id TEXT, "
                "cdp_health_score REAL, cdp_health_tier TEXT, cdp_health_top_reason TEXT, cdp_synced_at TIMESTAMP)"
            )
        )
        conn.execute(
            sa.text("INSERT INTO contacts (contact_id, cdp_health_tier) VALUES (1, 'set in CRM'), (2, NULL)")
        )
    engine.dispose()
    scores = pd.DataFrame(
        {
            "crm_contact_id": [1, 2, 3],
            "customer_id": ["cus_1", "cus_2", "cus_3"],
            "health_score": [10.0, 20.0, 30.0],
            "health_tier": ["a", "b", "c"],
            "health_top_reason": ["r", "r", "r"],
        }
    )
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA marts")
        con.register("scores", scores)
        con.execute("CREATE TABLE marts.crm_contact_scores AS SELECT * FROM scores")
    for name, value in {
        "CDP_WAREHOUSE_PATH": str(warehouse),
        "CDP_CRM_URL": f"sqlite:///{crm}",
        "CDP_SYNC_MODE": "columns",
        "CDP_SYNC_TABLE": "contacts",
    }.items():
        monkeypatch.setenv(name, value)
    return warehouse, crm


def test_plan_then_run_then_dead_letters(setup, monkeypatch):
    warehouse, crm = setup
    monkeypatch.setenv("CDP_SYNC_CRM_OWNED_FIELDS", "cdp_health_tier")
    monkeypatch.setattr(console, "width", 250)  # no wrapping of messages in the tables
    runner = CliRunner()

    plan = runner.invoke(app, ["sync", "plan"], terminal_width=200)
    assert plan.exit_code == 0, plan.output
    assert "dry run, nothing written" in plan.output
    assert "cdp_customer_id" in plan.output and "cdp_health_tier" not in plan.output
    with duckdb.connect(str(warehouse)) as con:
        assert con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'sync'"
        ).fetchall() == [(0,)]

    run = runner.invoke(app, ["sync", "run"], terminal_width=200)
    assert run.exit_code == 1  # contact 3 is not in the CRM: retried next run
    engine = sa.create_engine(f"sqlite:///{crm}")
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT contact_id, cdp_customer_id, cdp_health_score, cdp_health_tier FROM contacts ORDER BY 1"
            )
        ).fetchall()
    engine.dispose()
    assert rows == [(1, "cus_1", 10.0, "set in CRM"), (2, "cus_2", 20.0, None)]

    letters = runner.invoke(app, ["sync", "dead-letters"], terminal_width=200)
    assert letters.exit_code == 0
    assert "no row with contact_id=3" in letters.output and "True" in letters.output

    again = runner.invoke(app, ["sync", "run"], terminal_width=200)
    assert again.exit_code == 0, again.output  # the same failure again: reported, not new
    assert "failed" in again.output and "of which new" in again.output


def test_unknown_mode_is_refused_with_the_choices(setup):
    result = CliRunner().invoke(app, ["sync", "run", "--mode", "sideways"])
    assert result.exit_code == 2 and "--mode must be one of upsert" in result.output


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CDP_SYNC_MAX_CHANGE_SHARE", "lots", "CDP_SYNC_MAX_CHANGE_SHARE must be a number"),
        ("CDP_SYNC_WRITE_MODE", "replace", "CDP_SYNC_WRITE_MODE must be one of upsert"),
        ("CDP_SYNC_DRY_RUN", "maybe", "CDP_SYNC_DRY_RUN must be true or false"),
    ],
)
def test_bad_sync_settings_are_named(setup, monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    monkeypatch.setattr(console, "width", 250)
    result = CliRunner().invoke(app, ["sync", "plan"])
    assert result.exit_code == 2 and message in result.output


@pytest.fixture
def hubspot(tmp_path, monkeypatch):
    """A warehouse whose customers include 5 sharing 2 addresses, and the local HubSpot server."""
    warehouse = tmp_path / "warehouse.duckdb"
    emails = ["a@example.com", "b@example.com", "info@acme.example", "info@acme.example", "INFO@acme.example"]
    emails += ["desk@acme.example", "desk@acme.example"]
    customers = pd.DataFrame({"customer_id": [f"cus_{i}" for i in range(len(emails))], "email": emails})
    health = customers[["customer_id"]].assign(health_score=50.0, health_tier="watch", health_top_reason="r")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA marts")
        for table, frame in (("dim_customers", customers), ("customer_health", health)):
            con.register("frame", frame)
            con.execute(f"CREATE TABLE marts.{table} AS SELECT * FROM frame")
            con.unregister("frame")
    server, state, url = hubspot_server.start()
    for name, value in {
        "CDP_WAREHOUSE_PATH": str(warehouse),
        "CDP_HUBSPOT_TOKEN": hubspot_server.TOKEN,
        "CDP_HUBSPOT_BASE_URL": url,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(console, "width", 250)
    yield state
    server.shutdown()


def test_hubspot_run_reports_shared_emails_and_exits_0(hubspot):
    runner = CliRunner()

    run = runner.invoke(app, ["sync", "run", "--to", "hubspot"], terminal_width=200)

    assert run.exit_code == 0, run.output
    assert sorted(o["properties"]["email"] for o in hubspot.objects["contacts"].values()) == [
        "a@example.com",
        "b@example.com",
    ]
    assert "of which shared key" in run.output and "cdp sync dead-letters" in run.output
    assert "acme.example" not in run.output
    calls = len(hubspot.calls)

    again = runner.invoke(app, ["sync", "run", "--to", "hubspot"], terminal_width=200)

    assert again.exit_code == 0, again.output
    assert len(hubspot.calls) == calls
    assert re.search(r"│ of which shared key +│ +5 │", again.output)
    assert re.search(r"│ failed +│ +0 │", again.output)
    letters = runner.invoke(app, ["sync", "dead-letters"], terminal_width=200)
    assert "skip_conflict" in letters.output and "acme.example" not in letters.output
    keys = runner.invoke(app, ["sync", "dead-letters", "--show-keys"], terminal_width=200)
    assert "desk@acme.example" in keys.output and "info@acme.example" in keys.output


def test_sync_exits_75_while_another_process_holds_the_warehouse(setup, monkeypatch):
    import subprocess
    import sys

    warehouse, _ = setup
    monkeypatch.setattr(console, "width", 250)
    # Another process holds the warehouse lock, as a running `cdp run` does.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from orchestration.run_guard import warehouse_lock\n"
            "with warehouse_lock(Path(sys.argv[1]), holder='cdp run (test)'):\n"
            "    print('held', flush=True); time.sleep(60)",
            str(warehouse),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        result = CliRunner().invoke(app, ["sync", "plan"])
        assert result.exit_code == 75, result.output
        assert "cdp run (test)" in result.output
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert CliRunner().invoke(app, ["sync", "plan"]).exit_code == 0, "free again once the holder is gone"


def test_a_sync_that_writes_appends_one_audit_record_and_an_unchanged_rerun_none(setup, monkeypatch):
    import governance

    warehouse, _ = setup
    monkeypatch.setattr(console, "width", 250)
    runner = CliRunner()
    # Contact 3 is not in the CRM: a new failure the first time (exit 1), a known one after (exit 0).
    assert runner.invoke(app, ["sync", "run"]).exit_code == 1
    assert runner.invoke(app, ["sync", "run"]).exit_code == 0
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (record,) = governance.records(con, action="sync.write")
        assert governance.verify(con).intact
        written = con.execute(
            "SELECT record_key, operation FROM sync.sync_log WHERE status = 'ok' AND record_key IS NOT NULL "
            "ORDER BY ALL"
        ).fetchall()
        run_id = con.execute("SELECT run_id FROM sync.sync_runs ORDER BY started_at LIMIT 1").fetchall()[0][0]
    assert record["entity_type"] == "destination"
    details = json.loads(record["details"]) if isinstance(record["details"], str) else record["details"]
    assert details["updated"] + details["inserted"] == len(written) == 2
    assert record["after_digest"] == governance.digest(
        {"run_id": run_id, "written": [list(r) for r in written]}
    )
