"""``cdp sync`` plan, run and dead-letters against a SQLite CRM and a small warehouse."""

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from orchestration.cli import app
from orchestration.cli_common import console


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
