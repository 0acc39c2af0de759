"""Reverse sync against the real PostgreSQL and MariaDB servers, one isolated database per test."""

from datetime import UTC, datetime, timedelta

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa

from connectors.sync import SqlCrmTarget, SyncConfigError, sync_sql_crm

pytestmark = pytest.mark.integration


def people() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "contact_id": [101, 102, 103],
            "customer_id": ["cus_a1", "cus_b2", "cus_c3"],
            "health_score": [35.5, 88.0, 61.25],
            "health_tier": ["at_risk", "healthy", "neutral"],
            "health_top_reason": ["No login for 30 days", "Expanding seats", "Zhāng Wěi opened 张伟 ticket"],
        }
    )


@pytest.fixture
def state(tmp_path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        yield con


@pytest.fixture
def writes():
    """Every INSERT/UPDATE/DELETE sent to any SQLAlchemy engine: (verb, rows in the call)."""
    seen: list[tuple[str, int]] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb in ("INSERT", "UPDATE", "DELETE"):
            seen.append((verb, len(parameters) if executemany else 1))

    sa.event.listen(sa.Engine, "before_cursor_execute", count)
    yield seen
    sa.event.remove(sa.Engine, "before_cursor_execute", count)


def url_of(db) -> str:
    return db.url.render_as_string(hide_password=False)


def read(db, table: str, schema: str | None = None) -> dict[int, dict]:
    engine = db.engine()
    try:
        with engine.connect() as conn:
            reflected = sa.Table(table, sa.MetaData(), schema=schema, autoload_with=conn)
            rows = conn.execute(sa.select(reflected).order_by(reflected.c.contact_id)).mappings().all()
    finally:
        engine.dispose()
    return {row["contact_id"]: dict(row) for row in rows}


def fields(row: dict, prefix: str = "") -> tuple:
    return tuple(
        row[prefix + name] for name in ("customer_id", "health_score", "health_tier", "health_top_reason")
    )


def create_contacts(db) -> None:
    """The CRM's contacts table with the custom columns a CRM admin added for the CDP."""
    metadata = sa.MetaData()
    contacts = sa.Table(
        "contacts",
        metadata,
        sa.Column("contact_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("email", sa.String(200)),
        sa.Column("updated_at", sa.DateTime),
        sa.Column("cdp_customer_id", sa.String(64)),
        sa.Column("cdp_health_score", sa.Double),
        sa.Column("cdp_health_tier", sa.String(32)),
        sa.Column("cdp_health_top_reason", sa.Text),
        sa.Column("cdp_synced_at", sa.DateTime(timezone=True)),
    )
    engine = db.engine()
    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.execute(
            contacts.insert(),
            [
                {"contact_id": 101, "email": "a@example.com", "updated_at": datetime(2026, 1, 1)},
                {"contact_id": 102, "email": "b@example.com", "updated_at": datetime(2026, 1, 2)},
            ],
        )
    engine.dispose()


def test_side_table_upsert_inserts_then_updates(crm_db, state):
    target = SqlCrmTarget(url_of(crm_db))
    first = sync_sql_crm(people(), target, state, run_id="run-1")

    assert first.destination == f"sql_crm:{crm_db.dialect}:cdp_contact_fields"
    assert (first.inserted, first.updated, first.failed) == (3, 0, 0)
    first_rows = read(crm_db, "cdp_contact_fields")
    assert [fields(r) for r in first_rows.values()] == [fields(r) for r in people().to_dict("records")]

    changed = pd.concat(
        [
            people(),
            pd.DataFrame(
                {
                    "contact_id": [104],
                    "customer_id": ["cus_d4"],
                    "health_score": [0.0],
                    "health_tier": ["churn_risk"],
                    "health_top_reason": ["Contract ends"],
                }
            ),
        ],
        ignore_index=True,
    )
    changed["health_tier"] = changed["health_tier"].astype(object)
    changed.loc[0, "health_score"] = 12.75
    changed.loc[1, "health_tier"] = None
    second = sync_sql_crm(changed, target, state, run_id="run-2")

    assert (second.considered, second.inserted, second.updated, second.unchanged) == (4, 1, 2, 1)
    rows = read(crm_db, "cdp_contact_fields")
    assert fields(rows[101])[1] == 12.75
    assert fields(rows[102])[2] == "healthy"  # None never overwrites
    assert fields(rows[104]) == ("cus_d4", 0.0, "churn_risk", "Contract ends")
    assert rows[103] == first_rows[103]  # unchanged, so not even synced_at was touched
    log = state.execute(
        "SELECT record_key, operation, status FROM sync.sync_log "
        "WHERE run_id = 'run-2' AND record_key IS NOT NULL ORDER BY record_key"
    ).fetchall()
    assert log == [("101", "update", "ok"), ("102", "update", "ok"), ("104", "insert", "ok")]


def test_rerun_with_unchanged_input_writes_nothing(crm_db, state, writes):
    target = SqlCrmTarget(url_of(crm_db))
    sync_sql_crm(people(), target, state)
    crm_before = read(crm_db, "cdp_contact_fields")
    state_before = state.execute("SELECT * FROM sync.sync_state ORDER BY record_key").fetchall()
    writes.clear()

    again = sync_sql_crm(people(), target, state)

    assert writes == []
    assert (again.unchanged, again.inserted, again.updated, again.failed) == (3, 0, 0, 0)
    assert read(crm_db, "cdp_contact_fields") == crm_before
    assert state.execute("SELECT * FROM sync.sync_state ORDER BY record_key").fetchall() == state_before


def test_overwrite_nulls_clears_values(crm_db, state):
    sync_sql_crm(people(), SqlCrmTarget(url_of(crm_db)), state)
    cleared = people()
    cleared["health_score"] = cleared["health_score"].where(cleared["contact_id"] != 103)

    result = sync_sql_crm(cleared, SqlCrmTarget(url_of(crm_db), overwrite_nulls=True), state)

    assert result.updated == 1
    rows = read(crm_db, "cdp_contact_fields")
    assert [fields(r)[1] for r in rows.values()] == [35.5, 88.0, None]


def test_columns_mode_updates_existing_contacts_only(crm_db, state, writes):
    create_contacts(crm_db)
    writes.clear()
    frame = pd.concat(
        [people(), pd.DataFrame({"contact_id": [999], "customer_id": ["cus_z"], "health_score": [5.0]})],
        ignore_index=True,
    )
    started = datetime.now(UTC).replace(microsecond=0)

    result = sync_sql_crm(frame, SqlCrmTarget(url_of(crm_db), mode="columns"), state)

    assert (result.updated, result.inserted, result.failed, result.unchanged) == (2, 0, 2, 0)
    assert {verb for verb, _ in writes} == {"UPDATE"}
    rows = read(crm_db, "contacts")
    assert list(rows) == [101, 102]
    assert fields(rows[101], "cdp_") == ("cus_a1", 35.5, "at_risk", "No login for 30 days")
    assert fields(rows[102], "cdp_") == ("cus_b2", 88.0, "healthy", "Expanding seats")
    assert (rows[101]["email"], rows[101]["updated_at"]) == ("a@example.com", datetime(2026, 1, 1))
    synced = rows[101]["cdp_synced_at"]
    synced = synced if synced.tzinfo else synced.replace(tzinfo=UTC)
    assert started - timedelta(seconds=1) <= synced <= datetime.now(UTC) + timedelta(seconds=1)
    errors = state.execute(
        "SELECT record_key FROM sync.sync_log WHERE status = 'error' ORDER BY 1"
    ).fetchall()
    assert errors == [("103",), ("999",)]


def test_columns_mode_missing_column_is_a_clear_error(crm_db, state):
    create_contacts(crm_db)
    target = SqlCrmTarget(url_of(crm_db), mode="columns", field_map={"health_score": "cdp_score"})

    with pytest.raises(SyncConfigError, match=r"'contacts' lacks column\(s\) cdp_score \(for health_score\)"):
        sync_sql_crm(people(), target, state)


def test_schema_qualified_side_table(crm_db, state):
    table = f"{crm_db.other_schema}.cdp_contact_fields"
    target = SqlCrmTarget(url_of(crm_db), table=table)

    result = sync_sql_crm(people(), target, state)

    assert (result.destination, result.inserted) == (f"sql_crm:{crm_db.dialect}:{table}", 3)
    engine = crm_db.engine()
    inspector = sa.inspect(engine)
    assert inspector.has_table("cdp_contact_fields", schema=crm_db.other_schema)
    assert not inspector.has_table("cdp_contact_fields", schema=crm_db.schema)
    engine.dispose()
    changed = people()
    changed.loc[2, "health_score"] = 99.5
    again = sync_sql_crm(changed, target, state)
    assert (again.updated, again.unchanged) == (1, 2)
    rows = read(crm_db, "cdp_contact_fields", schema=crm_db.other_schema)
    assert [fields(r)[1] for r in rows.values()] == [35.5, 88.0, 99.5]


def test_missing_schema_is_a_clear_error(crm_db, state):
    target = SqlCrmTarget(url_of(crm_db), table="no_such_schema.cdp_contact_fields")

    with pytest.raises(SyncConfigError, match="schema 'no_such_schema' .* does not exist"):
        sync_sql_crm(people(), target, state)


def test_value_rejected_by_the_database_fails_only_its_row(crm_db, state):
    engine = crm_db.engine()
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE cdp_contact_fields (contact_id BIGINT PRIMARY KEY, customer_id VARCHAR(255), "
                "health_score DOUBLE PRECISION, health_tier VARCHAR(7), health_top_reason TEXT, "
                "synced_at TIMESTAMP NULL)"
            )
        )
    engine.dispose()

    frame = people()
    frame.loc[1, "health_tier"] = "very_healthy"  # longer than VARCHAR(7)

    result = sync_sql_crm(frame, SqlCrmTarget(url_of(crm_db)), state)

    assert (result.inserted, result.failed) == (2, 1)
    assert "too long" in result.errors[0].lower()
    assert list(read(crm_db, "cdp_contact_fields")) == [101, 103]
    failed = state.execute("SELECT record_key FROM sync.sync_log WHERE status = 'error'").fetchall()
    assert failed == [("102",)]
    assert [k for (k,) in state.execute("SELECT record_key FROM sync.sync_state ORDER BY 1").fetchall()] == [
        "101",
        "103",
    ]
