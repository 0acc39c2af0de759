"""The sync engine's modes, safety and dead letters on the real PostgreSQL and MariaDB servers."""

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa

from connectors.sync import (
    CircuitBreakerOpen,
    SqlCrmDestination,
    SqlCrmTarget,
    SyncPolicy,
    read_back,
    sync_sql_crm,
)
from tests.integration.test_sync_sql_crm import create_contacts, read, url_of

pytestmark = pytest.mark.integration


def scores(n: int, tier: str = "healthy") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "contact_id": list(range(1, n + 1)),
            "customer_id": [f"cus_{i}" for i in range(1, n + 1)],
            "health_score": [float(i % 100) for i in range(1, n + 1)],
            "health_tier": [tier] * n,
            "health_top_reason": ["steady usage"] * n,
        }
    )


@pytest.fixture
def state(tmp_path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        yield con


def test_mirror_deletes_only_rows_the_sync_created(crm_db, state):
    target = SqlCrmTarget(url_of(crm_db))
    mirror = SyncPolicy(mode="mirror", breaker_min_records=1000)
    sync_sql_crm(scores(4), target, state, policy=mirror)
    engine = crm_db.engine()
    with engine.begin() as conn:  # a row someone else keeps in the same table
        conn.execute(
            sa.text("INSERT INTO cdp_contact_fields (contact_id, customer_id) VALUES (77, 'manual')")
        )
    engine.dispose()

    result = sync_sql_crm(scores(4).iloc[[0, 2]], target, state, policy=mirror)

    assert result.deleted == 2
    assert sorted(read(crm_db, "cdp_contact_fields")) == [1, 3, 77]
    assert state.execute("SELECT record_key FROM sync.sync_state ORDER BY 1").fetchall() == [("1",), ("3",)]


def test_dead_letters_explain_refusals_and_unknown_contacts_are_retried(crm_db, state):
    create_contacts(crm_db)  # contacts 101 and 102; cdp_customer_id is VARCHAR(64)
    frame = pd.DataFrame(
        {
            "contact_id": [101, 102, 555],
            "customer_id": ["cus_ok", "x" * 80, "cus_missing"],
            "health_score": [10.0, 20.0, 30.0],
            "health_tier": ["a", "b", "c"],
            "health_top_reason": ["r", "r", "r"],
        }
    )
    target = SqlCrmTarget(url_of(crm_db), mode="columns")

    result = sync_sql_crm(frame, target, state)

    assert (result.updated, result.failed, result.retryable_failed) == (1, 2, 1)
    dead = dict(
        (k, (retryable, error))
        for k, retryable, error in state.execute(
            "SELECT record_key, retryable, error FROM sync.dead_letters WHERE resolved_at IS NULL"
        ).fetchall()
    )
    assert set(dead) == {"102", "555"}
    assert dead["102"][0] is False and "too long" in dead["102"][1].lower()
    assert dead["555"][0] is True and "no row with contact_id=555" in dead["555"][1]

    again = sync_sql_crm(frame, target, state)
    assert (again.skipped, again.retryable_failed, again.unchanged) == (1, 1, 1)  # 102 skipped, 555 retried
    attempts = state.execute("SELECT record_key, attempts FROM sync.dead_letters ORDER BY 1").fetchall()
    assert attempts == [("102", 1), ("555", 2)]


def test_circuit_breaker_and_dry_run_plan(crm_db, state):
    target = SqlCrmTarget(url_of(crm_db))
    sync_sql_crm(scores(120), target, state)
    before = read(crm_db, "cdp_contact_fields")
    changed = scores(130, tier="at_risk")

    with pytest.raises(CircuitBreakerOpen, match="120 updates and 0 deletes would touch 100%"):
        sync_sql_crm(changed, target, state)
    assert read(crm_db, "cdp_contact_fields") == before

    plan = sync_sql_crm(changed, target, state, dry_run=True, policy=SyncPolicy(max_change_share=None))
    assert plan.plan == {
        "create": 10,
        "update": 120,
        "delete": 0,
        "skip": 0,
        "invalid": 0,
        "fields": {"customer_id": 10, "health_score": 10, "health_tier": 130, "health_top_reason": 10},
    }
    assert read(crm_db, "cdp_contact_fields") == before


def test_crm_owned_fields_are_never_written_and_read_back_matches(crm_db, state):
    create_contacts(crm_db)
    target = SqlCrmTarget(url_of(crm_db), mode="columns")
    frame = scores(102).iloc[100:]
    frame.loc[:, "contact_id"] = [101, 102]
    owned = SyncPolicy(crm_owned_fields=frozenset({"cdp_health_tier"}))

    sync_sql_crm(frame, target, state, policy=owned)

    rows = read(crm_db, "contacts")
    assert [rows[k]["cdp_health_tier"] for k in (101, 102)] == [None, None]
    assert [rows[k]["cdp_customer_id"] for k in (101, 102)] == ["cus_101", "cus_102"]
    checked, problems = read_back(SqlCrmDestination(target), state, sample=5, seed=0)
    assert (checked, problems) == (2, [])
