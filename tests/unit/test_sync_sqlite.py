"""Reverse sync into a SQLite CRM, with the sync state in a DuckDB file; both live in tmp_path."""

import hashlib
import json
from datetime import datetime, timedelta

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa

from connectors.sync import SqlCrmTarget, SyncConfigError, SyncError, SyncPolicy, sync_sql_crm

REASON_1 = "No login for 30 days"
REASON_2 = "Expanding seats"


def people() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "contact_id": [101, 102, 103],
            "customer_id": ["cus_a1", "cus_b2", "cus_c3"],
            "health_score": [35.5, 88.0, 61.25],
            "health_tier": ["at_risk", "healthy", "neutral"],
            "health_top_reason": [REASON_1, REASON_2, "Open urgent ticket"],
        }
    )


@pytest.fixture
def crm_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'crm.sqlite'}"


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


def crm_rows(url: str, table: str, key: str = "contact_id") -> dict:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY {key}")).mappings().all()
    finally:
        engine.dispose()
    return {row[key]: dict(row) for row in rows}


def state_rows(con) -> dict:
    rows = con.execute(
        "SELECT record_key, checksum, run_id, synced_at, destination, object_type FROM sync.sync_state"
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def expected_checksum(customer_id, score, tier, reason) -> str:
    canonical = json.dumps(
        {"customer_id": customer_id, "health_score": score, "health_tier": tier, "health_top_reason": reason},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def create_contacts(url: str, with_tier: bool = True) -> None:
    """A CRM contacts table like the sample CRM's, plus the custom columns a CRM admin added."""
    tier = "cdp_health_tier VARCHAR(64)," if with_tier else ""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"""CREATE TABLE contacts (
                    contact_id INTEGER PRIMARY KEY, email VARCHAR(200), lifecycle_stage VARCHAR(20),
                    updated_at VARCHAR(19), cdp_customer_id VARCHAR(64), cdp_health_score FLOAT, {tier}
                    cdp_health_top_reason TEXT, cdp_synced_at DATETIME)"""
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO contacts (contact_id, email, lifecycle_stage, updated_at) VALUES "
                "(101, 'a@example.com', 'customer', '2026-01-01 00:00:00'), "
                "(102, 'b@example.com', 'lead', '2026-01-02 00:00:00')"
            )
        )
    engine.dispose()


def test_first_sync_writes_every_row_with_exact_values(crm_url, state, writes):
    before = datetime.now().replace(microsecond=0) - timedelta(days=1)

    result = sync_sql_crm(people(), SqlCrmTarget(crm_url), state, run_id="run-1")

    assert (result.considered, result.inserted, result.updated, result.unchanged, result.failed) == (
        3,
        3,
        0,
        0,
        0,
    )
    assert result.destination == "sql_crm:sqlite:cdp_contact_fields"
    assert writes == [("INSERT", 3)]
    rows = crm_rows(crm_url, "cdp_contact_fields")
    assert [
        (r["customer_id"], r["health_score"], r["health_tier"], r["health_top_reason"]) for r in rows.values()
    ] == [
        ("cus_a1", 35.5, "at_risk", REASON_1),
        ("cus_b2", 88.0, "healthy", REASON_2),
        ("cus_c3", 61.25, "neutral", "Open urgent ticket"),
    ]
    assert list(rows) == [101, 102, 103]
    assert all(r["synced_at"] is not None for r in rows.values())
    saved = state_rows(state)
    assert saved["101"][0] == expected_checksum("cus_a1", 35.5, "at_risk", REASON_1)
    assert saved["102"][0] == expected_checksum("cus_b2", 88.0, "healthy", REASON_2)
    assert {v[1] for v in saved.values()} == {"run-1"}
    assert {(v[3], v[4]) for v in saved.values()} == {("sql_crm:sqlite:cdp_contact_fields", "contact")}
    assert all(v[2] > before for v in saved.values())
    log = state.execute(
        "SELECT record_key, operation, status, record_count FROM sync.sync_log ORDER BY record_key NULLS LAST"
    ).fetchall()
    assert log == [
        ("101", "insert", "ok", 1),
        ("102", "insert", "ok", 1),
        ("103", "insert", "ok", 1),
        (None, "skip_unchanged", "ok", 0),
    ]


def test_created_side_table_has_the_documented_types(crm_url, state):
    sync_sql_crm(people(), SqlCrmTarget(crm_url), state)

    engine = sa.create_engine(crm_url)
    columns = {c["name"]: c for c in sa.inspect(engine).get_columns("cdp_contact_fields")}
    pk = sa.inspect(engine).get_pk_constraint("cdp_contact_fields")["constrained_columns"]
    engine.dispose()
    assert pk == ["contact_id"]
    assert isinstance(columns["contact_id"]["type"], sa.BigInteger)
    assert isinstance(columns["health_score"]["type"], sa.Float)
    assert isinstance(columns["synced_at"]["type"], sa.DateTime)
    assert isinstance(columns["health_tier"]["type"], sa.String)


def test_second_identical_sync_writes_zero_rows(crm_url, state, writes):
    sync_sql_crm(people(), SqlCrmTarget(crm_url), state, run_id="run-1")
    first_state = state_rows(state)
    first_crm = crm_rows(crm_url, "cdp_contact_fields")
    writes.clear()

    result = sync_sql_crm(people(), SqlCrmTarget(crm_url), state, run_id="run-2")

    assert writes == []
    assert (result.considered, result.unchanged, result.inserted, result.updated, result.failed) == (
        3,
        3,
        0,
        0,
        0,
    )
    assert state_rows(state) == first_state
    assert crm_rows(crm_url, "cdp_contact_fields") == first_crm
    log = state.execute(
        "SELECT record_key, operation, record_count FROM sync.sync_log WHERE run_id = 'run-2'"
    )
    assert log.fetchall() == [(None, "skip_unchanged", 3)]


def test_changed_score_writes_exactly_that_row(crm_url, state, writes):
    sync_sql_crm(people(), SqlCrmTarget(crm_url), state, run_id="run-1")
    writes.clear()
    changed = people()
    changed.loc[changed["contact_id"] == 102, "health_score"] = 42.0

    result = sync_sql_crm(changed, SqlCrmTarget(crm_url), state, run_id="run-2")

    assert (result.unchanged, result.inserted, result.updated) == (2, 0, 1)
    assert writes == [("INSERT", 1)]  # the upsert statement, run for the one changed row
    rows = crm_rows(crm_url, "cdp_contact_fields")
    assert [r["health_score"] for r in rows.values()] == [35.5, 42.0, 61.25]
    saved = state_rows(state)
    assert {k: v[1] for k, v in saved.items()} == {"101": "run-1", "102": "run-2", "103": "run-1"}
    assert saved["102"][0] == expected_checksum("cus_b2", 42.0, "healthy", REASON_2)
    log = state.execute("SELECT record_key, operation FROM sync.sync_log WHERE run_id = 'run-2' ORDER BY 1")
    assert log.fetchall() == [("102", "update"), (None, "skip_unchanged")]


def test_none_does_not_overwrite_a_crm_value(crm_url, state):
    sync_sql_crm(people(), SqlCrmTarget(crm_url), state)
    gaps = people()
    gaps["health_tier"] = gaps["health_tier"].astype(object)
    gaps.loc[gaps["contact_id"] == 101, ["health_tier", "health_score"]] = [None, float("nan")]
    gaps.loc[gaps["contact_id"] == 101, "customer_id"] = "cus_new"

    result = sync_sql_crm(gaps, SqlCrmTarget(crm_url), state)

    assert result.updated == 1
    row = crm_rows(crm_url, "cdp_contact_fields")[101]
    assert (row["customer_id"], row["health_score"], row["health_tier"]) == ("cus_new", 35.5, "at_risk")


def test_overwrite_nulls_clears_the_crm_value(crm_url, state):
    sync_sql_crm(people(), SqlCrmTarget(crm_url), state)
    gaps = people()
    gaps["health_tier"] = gaps["health_tier"].astype(object)
    gaps.loc[gaps["contact_id"] == 101, "health_tier"] = None

    sync_sql_crm(gaps, SqlCrmTarget(crm_url, overwrite_nulls=True), state)

    rows = crm_rows(crm_url, "cdp_contact_fields")
    assert (rows[101]["health_tier"], rows[101]["health_score"]) == (None, 35.5)
    assert rows[102]["health_tier"] == "healthy"


def test_columns_mode_updates_existing_contacts_and_never_inserts(crm_url, state, writes):
    create_contacts(crm_url)
    writes.clear()
    frame = pd.concat(
        [people(), pd.DataFrame({"contact_id": [999], "customer_id": ["cus_zz"], "health_score": [50.0]})],
        ignore_index=True,
    )
    target = SqlCrmTarget(crm_url, mode="columns")

    result = sync_sql_crm(frame, target, state, run_id="run-1")

    assert result.destination == "sql_crm:sqlite:contacts"
    assert (result.considered, result.updated, result.inserted, result.failed) == (4, 2, 0, 2)
    assert {verb for verb, _ in writes} == {"UPDATE"}
    rows = crm_rows(crm_url, "contacts")
    assert list(rows) == [101, 102]
    assert rows[101] | {"cdp_synced_at": None} == {
        "contact_id": 101,
        "email": "a@example.com",
        "lifecycle_stage": "customer",
        "updated_at": "2026-01-01 00:00:00",
        "cdp_customer_id": "cus_a1",
        "cdp_health_score": 35.5,
        "cdp_health_tier": "at_risk",
        "cdp_health_top_reason": REASON_1,
        "cdp_synced_at": None,
    }
    assert rows[101]["cdp_synced_at"] is not None
    assert rows[102]["cdp_health_tier"] == "healthy"
    assert set(state_rows(state)) == {"101", "102"}
    errors = dict(
        state.execute("SELECT record_key, error FROM sync.sync_log WHERE status = 'error'").fetchall()
    )
    assert set(errors) == {"103", "999"}
    assert "no row with contact_id=999" in errors["999"]

    writes.clear()
    again = sync_sql_crm(frame, target, state, run_id="run-2")
    assert (again.unchanged, again.updated, again.failed) == (2, 0, 2)
    assert writes == []


def test_crm_owned_fields_including_synced_at_are_never_written(crm_url, state, writes):
    create_contacts(crm_url)
    engine = sa.create_engine(crm_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE contacts SET cdp_synced_at = '2025-05-05 05:05:05.000000', "
                "cdp_health_tier = 'set by sales' WHERE contact_id = 101"
            )
        )
    engine.dispose()
    writes.clear()
    owned = SyncPolicy(crm_owned_fields=frozenset({"cdp_synced_at", "cdp_health_tier"}))

    result = sync_sql_crm(people(), SqlCrmTarget(crm_url, mode="columns"), state, policy=owned)

    assert (result.updated, result.failed) == (2, 1)  # 103 is not in the CRM
    rows = crm_rows(crm_url, "contacts")
    assert [(r["cdp_customer_id"], r["cdp_health_tier"], r["cdp_synced_at"]) for r in rows.values()] == [
        ("cus_a1", "set by sales", "2025-05-05 05:05:05.000000"),
        ("cus_b2", None, None),
    ]
    assert writes == [("UPDATE", 2)]


def test_columns_mode_missing_column_raises_one_clear_error(crm_url, state, writes):
    create_contacts(crm_url, with_tier=False)
    writes.clear()

    with pytest.raises(SyncConfigError) as raised:
        sync_sql_crm(people(), SqlCrmTarget(crm_url, mode="columns"), state)

    message = str(raised.value)
    assert "'contacts'" in message
    assert "cdp_health_tier (for health_tier)" in message
    assert "never alters" in message and "field_map" in message
    assert writes == []
    engine = sa.create_engine(crm_url)
    assert "cdp_health_tier" not in {c["name"] for c in sa.inspect(engine).get_columns("contacts")}
    engine.dispose()


def test_columns_mode_missing_table_raises_one_clear_error(crm_url, state):
    with pytest.raises(SyncConfigError, match="CRM table 'crm_contacts' does not exist"):
        sync_sql_crm(people(), SqlCrmTarget(crm_url, mode="columns", table="crm_contacts"), state)


def test_columns_mode_with_custom_mapping(crm_url, state):
    create_contacts(crm_url, with_tier=False)
    target = SqlCrmTarget(crm_url, mode="columns", field_map={"health_score": "cdp_health_score"})

    result = sync_sql_crm(people(), target, state)

    assert result.updated == 2
    rows = crm_rows(crm_url, "contacts")
    assert [(r["cdp_health_score"], r["cdp_customer_id"], r["cdp_synced_at"]) for r in rows.values()] == [
        (35.5, None, None),
        (88.0, None, None),
    ]


def test_dry_run_writes_nothing(crm_url, state, writes, tmp_path):
    result = sync_sql_crm(people(), SqlCrmTarget(crm_url), state, dry_run=True)

    assert (result.dry_run, result.inserted, result.updated, result.unchanged) == (True, 3, 0, 0)
    assert writes == []
    engine = sa.create_engine(crm_url)
    assert not sa.inspect(engine).has_table("cdp_contact_fields")
    engine.dispose()
    assert state.execute(
        "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'sync'"
    ).fetchone() == (0,)

    sync_sql_crm(people(), SqlCrmTarget(crm_url), state)
    before_state = state_rows(state)
    before_log = state.execute("SELECT count(*) FROM sync.sync_log").fetchone()
    changed = people()
    changed.loc[0, "health_score"] = 1.0
    writes.clear()

    planned = sync_sql_crm(changed, SqlCrmTarget(crm_url), state, dry_run=True)

    assert (planned.updated, planned.unchanged, planned.inserted) == (1, 2, 0)
    assert writes == []
    assert crm_rows(crm_url, "cdp_contact_fields")[101]["health_score"] == 35.5
    assert state_rows(state) == before_state
    assert state.execute("SELECT count(*) FROM sync.sync_log").fetchone() == before_log


def test_invalid_rows_fail_alone_and_good_rows_still_sync(crm_url, state):
    frame = pd.DataFrame(
        {
            "contact_id": [1, 2, 2, None, 5],
            "customer_id": ["cus_1", "cus_2", "cus_2b", "cus_x", "cus_5"],
            "health_score": [150.0, 10.0, 11.0, 12.0, 70.0],
            "health_tier": ["a", "b", "c", "d", "e"],
            "health_top_reason": ["r"] * 5,
        }
    )

    result = sync_sql_crm(frame, SqlCrmTarget(crm_url), state)

    assert (result.considered, result.inserted, result.failed, result.conflicts) == (5, 1, 2, 2)
    assert list(crm_rows(crm_url, "cdp_contact_fields")) == [5]
    assert result.errors == ("health_score 150.0 is outside 0-100", "contact_id is empty")
    failed = state.execute(
        "SELECT record_key, error FROM sync.sync_log WHERE status = 'error' ORDER BY record_key NULLS LAST"
    ).fetchall()
    assert [k for k, _ in failed] == ["1", None]
    assert state.execute(
        "SELECT record_key, operation, error FROM sync.dead_letters WHERE record_key = '2'"
    ).fetchall() == [
        ("2", "skip_conflict", "2 input records share this contact_id; none of them is sent while they do")
    ]
    assert set(state_rows(state)) == {"5"}


def test_keys_naming_one_crm_row_are_a_conflict_not_a_silent_overwrite(crm_url, state, writes):
    sync_sql_crm(people(), SqlCrmTarget(crm_url), state, run_id="run-1")  # BIGINT keys: 0101 is row 101
    writes.clear()
    other = pd.DataFrame(
        {
            "contact_id": ["0101"],
            "customer_id": ["cus_zz"],
            "health_score": [5.0],
            "health_tier": ["x"],
            "health_top_reason": ["y"],
        }
    )
    frame = pd.concat([people(), other], ignore_index=True)

    result = sync_sql_crm(frame, SqlCrmTarget(crm_url), state, run_id="run-2")

    assert (result.inserted, result.updated, result.unchanged, result.conflicts, result.failed) == (
        0,
        0,
        2,
        2,
        0,
    )
    assert writes == []
    assert crm_rows(crm_url, "cdp_contact_fields")[101]["customer_id"] == "cus_a1"
    assert set(state_rows(state)) == {"101", "102", "103"}
    letters = state.execute(
        "SELECT record_key, operation, error FROM sync.dead_letters ORDER BY record_key"
    ).fetchall()
    message = "2 input records share this contact_id; none of them is sent while they do"
    assert letters == [("0101", "skip_conflict", message), ("101", "skip_conflict", message)]


def test_row_rejected_by_the_database_does_not_block_its_batch(crm_url, state):
    engine = sa.create_engine(crm_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE cdp_contact_fields (contact_id BIGINT PRIMARY KEY, customer_id VARCHAR(255), "
                "health_score FLOAT CHECK (health_score < 80), health_tier VARCHAR(64), "
                "health_top_reason TEXT, synced_at DATETIME)"
            )
        )
    engine.dispose()

    result = sync_sql_crm(people(), SqlCrmTarget(crm_url), state)

    assert (result.inserted, result.failed) == (2, 1)
    assert "IntegrityError" in result.errors[0]
    assert list(crm_rows(crm_url, "cdp_contact_fields")) == [101, 103]
    assert set(state_rows(state)) == {"101", "103"}


def test_batches_are_separate_statements(crm_url, state, writes):
    frame = pd.DataFrame({"contact_id": range(1, 6), "health_score": [10.0, 20.0, 30.0, 40.0, 50.0]})
    target = SqlCrmTarget(crm_url, field_map={"health_score": "health_score"}, batch_size=2)

    result = sync_sql_crm(frame, target, state)

    assert result.inserted == 5
    assert writes == [("INSERT", 2), ("INSERT", 2), ("INSERT", 1)]
    assert [r["health_score"] for r in crm_rows(crm_url, "cdp_contact_fields").values()] == [
        10,
        20,
        30,
        40,
        50,
    ]


def test_schema_qualified_table_and_custom_name(crm_url, state):
    target = SqlCrmTarget(crm_url, table="main.cdp_fields", name="crm_eu")

    result = sync_sql_crm(people(), target, state)

    assert (result.destination, result.inserted) == ("crm_eu", 3)
    assert len(crm_rows(crm_url, "main.cdp_fields")) == 3
    assert state.execute("SELECT DISTINCT destination FROM sync.sync_state").fetchall() == [("crm_eu",)]


def test_side_table_recreated_after_drop_is_refilled(crm_url, state):
    sync_sql_crm(people(), SqlCrmTarget(crm_url), state)
    engine = sa.create_engine(crm_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE cdp_contact_fields"))
    engine.dispose()

    result = sync_sql_crm(people(), SqlCrmTarget(crm_url), state)

    assert (result.inserted, result.unchanged) == (3, 0)
    assert len(crm_rows(crm_url, "cdp_contact_fields")) == 3


def test_missing_input_column_is_a_config_error(crm_url, state):
    with pytest.raises(SyncConfigError, match="input DataFrame lacks column.s. health_tier"):
        sync_sql_crm(people().drop(columns="health_tier"), SqlCrmTarget(crm_url), state)


def test_password_never_leaks(state):
    target = SqlCrmTarget("postgresql+psycopg://crm:s3cr3t-pw@127.0.0.1:1/crm")

    with pytest.raises(SyncError) as raised:
        sync_sql_crm(people(), target, state)

    assert "s3cr3t-pw" not in str(raised.value)
    assert "***" in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert "s3cr3t-pw" not in repr(target)
    assert target.destination == "sql_crm:postgresql:cdp_contact_fields"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "merge"}, "use 'side_table' or 'columns'"),
        ({"batch_size": 0}, "batch_size"),
        ({"field_map": {"lifetime_value": "ltv"}}, "unknown field"),
        ({"field_map": {"synced_at": "synced_at"}}, "maps no data field"),
        ({"field_map": {"health_score": "x", "health_tier": "x"}}, "same column"),
    ],
)
def test_target_rejects_bad_configuration(crm_url, kwargs, message):
    with pytest.raises(SyncConfigError, match=message):
        SqlCrmTarget(crm_url, **kwargs)


def test_unsupported_dialect_is_rejected():
    with pytest.raises(SyncConfigError, match="dialect 'oracle' is not supported"):
        SqlCrmTarget("oracle://scott:tiger@db/orcl")
