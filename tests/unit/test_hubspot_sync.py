"""HubSpot sync against the local HubSpot server: batching, diffing, faults, safety, lists."""

import json
import logging
import time

import duckdb
import pandas as pd
import pytest

from connectors.hubspot import HubSpotClient, read_objects, sync_hubspot, sync_list
from connectors.hubspot._destination import HubSpotDestination
from connectors.sync import CircuitBreakerOpen, SyncPolicy, _engine, read_back
from tests.fakes import hubspot_server
from tests.fakes.hubspot_server import TOKEN


@pytest.fixture
def hub():
    server, state, url = hubspot_server.start()
    yield state, url
    server.shutdown()


@pytest.fixture
def con(tmp_path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        yield connection


def client_for(url: str, **kwargs) -> HubSpotClient:
    options = {"backoff_s": 0.01, "timeout_s": 0.5, "max_attempts": 5, **kwargs}
    return HubSpotClient(TOKEN, base_url=url, **options)


def contacts(n: int, score_offset: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "email": [f"Person{i}@Example.com" for i in range(n)],
            "customer_id": [f"cus_{i:05d}" for i in range(n)],
            "health_score": [round((i * 7 % 100) + score_offset, 2) % 100 for i in range(n)],
            "health_tier": ["healthy" if i % 3 else "at_risk" for i in range(n)],
            "health_drivers": [f"driver {i % 5}" for i in range(n)],
        }
    )


def held(state, n: int) -> dict[str, dict]:
    return {f"person{i}@example.com": state.by_unique("contacts", f"person{i}@example.com") for i in range(n)}


def assert_all_synced(state, frame: pd.DataFrame) -> None:
    """Every input row is in HubSpot exactly once with its latest values."""
    assert len(state.objects["contacts"]) == len(frame)
    assert state.duplicates("contacts") == []
    for row in frame.to_dict("records"):
        obj = state.by_unique("contacts", row["email"].lower())
        assert obj is not None, row["email"]
        props = obj["properties"]
        assert props["cdp_customer_id"] == row["customer_id"]
        assert float(props["cdp_health_score"]) == row["health_score"]
        assert props["cdp_health_tier"] == row["health_tier"]


def upserts(state) -> list[int]:
    return [n for path, n, _ in state.writes() if path.endswith("/batch/upsert")]


def test_first_run_batches_by_100_and_unchanged_rerun_writes_nothing(hub, con):
    state, url = hub
    frame = contacts(250)

    result = sync_hubspot(frame, client_for(url), con)

    assert (result.inserted, result.updated, result.failed) == (250, 0, 0)
    assert upserts(state) == [100, 100, 50]
    assert sorted(state.properties["contacts"]) == [
        "cdp_audiences",
        "cdp_customer_id",
        "cdp_health_drivers",
        "cdp_health_score",
        "cdp_health_tier",
    ]
    assert state.properties["contacts"]["cdp_health_score"]["groupName"] == "cdp"
    assert_all_synced(state, frame)
    calls_before = len(state.calls)

    again = sync_hubspot(frame, client_for(url), con)

    assert (again.unchanged, again.inserted, again.updated) == (250, 0, 0)
    assert state.calls[calls_before:] == []  # not a write, not even a read


def test_only_changed_records_are_sent_and_counted_as_updates(hub, con):
    state, url = hub
    frame = contacts(120)
    sync_hubspot(frame, client_for(url), con)
    frame.loc[[3, 50, 119], "health_score"] = [1.5, 2.5, 3.5]
    before = len(upserts(state))

    result = sync_hubspot(frame, client_for(url), con)

    assert (result.updated, result.inserted, result.unchanged) == (3, 0, 117)
    assert upserts(state)[before:] == [3]
    assert state.by_unique("contacts", "person50@example.com")["properties"]["cdp_health_score"] == "2.5"


@pytest.mark.parametrize("retry_after", [None, 0.05])
def test_429_storm_is_waited_out_and_nothing_lost_or_duplicated(hub, con, retry_after):
    state, url = hub
    state.inject("429", path="/batch/upsert", times=3, retry_after=retry_after)
    frame = contacts(230)

    result = sync_hubspot(frame, client_for(url, max_attempts=6), con)

    assert (result.inserted, result.failed) == (230, 0)
    statuses = [s for path, _, s in state.writes()]
    assert statuses.count(429) == 3
    assert_all_synced(state, frame)


def test_5xx_and_timeouts_are_retried_without_duplicates(hub, con):
    state, url = hub
    state.inject("500", path="/batch/upsert", times=2)
    # The server applies the write, then answers after the client gave up: the resend must
    # update the same records, not create new ones.
    state.inject("timeout", path="/batch/upsert", times=1, delay_s=1.0)
    frame = contacts(210)

    result = sync_hubspot(frame, client_for(url), con)

    assert result.failed == 0
    assert_all_synced(state, frame)
    assert len(state.objects["contacts"]) == 210


def test_207_partial_failure_dead_letters_the_refused_records_only(hub, con):
    state, url = hub
    state.rejected = {"person7@example.com", "person150@example.com"}
    frame = contacts(160)

    result = sync_hubspot(frame, client_for(url), con, run_id="run-1")

    assert (result.inserted, result.failed, result.retryable_failed) == (158, 2, 0)
    dead = con.execute(
        "SELECT record_key, operation, retryable, attempts, error FROM sync.dead_letters ORDER BY record_key"
    ).fetchall()
    assert [(k, op, r, a) for k, op, r, a, _ in dead] == [
        ("person150@example.com", "upsert", False, 1),
        ("person7@example.com", "upsert", False, 1),
    ]
    assert [e for *_, e in dead] == [
        "VALIDATION_ERROR: Property values were not valid for person150@example.com",
        "VALIDATION_ERROR: Property values were not valid for person7@example.com",
    ]
    assert result.errors == ("VALIDATION_ERROR: Property values were not valid for <email>",)
    synced = {r[0] for r in con.execute("SELECT record_key FROM sync.sync_state").fetchall()}
    assert "person7@example.com" not in synced and len(synced) == 158
    log = con.execute(
        "SELECT status, count(*) FROM sync.sync_log WHERE run_id = 'run-1' AND record_key IS NOT NULL GROUP BY 1"
    ).fetchall()
    assert dict(log) == {"ok": 158, "error": 2}

    before = len(state.writes())
    same = sync_hubspot(frame, client_for(url), con, run_id="run-2")
    assert len(state.writes()) == before  # refused with the same values: not resent
    assert same.skipped == 2

    state.rejected = set()
    frame.loc[7, "health_tier"] = "fixed"
    fixed = sync_hubspot(frame, client_for(url), con, run_id="run-3")
    assert (fixed.inserted, fixed.skipped) == (1, 1)  # 150 still refused-and-unchanged
    open_letters = con.execute(
        "SELECT record_key FROM sync.dead_letters WHERE resolved_at IS NULL"
    ).fetchall()
    assert open_letters == [("person150@example.com",)]


def test_207_retryable_errors_are_retried_next_run_and_resolved(hub, con):
    state, url = hub
    state.locked = {"person3@example.com"}
    frame = contacts(8)

    first = sync_hubspot(frame, client_for(url), con, run_id="run-1")

    assert (first.inserted, first.failed, first.retryable_failed) == (7, 1, 1)
    assert con.execute("SELECT record_key, retryable, error FROM sync.dead_letters").fetchall() == [
        ("person3@example.com", True, "LOCKED: The object is locked by a running workflow")
    ]
    state.locked = set()

    second = sync_hubspot(frame, client_for(url), con, run_id="run-2")  # same values: still resent

    assert (second.inserted, second.unchanged, second.skipped) == (1, 7, 0)
    assert con.execute("SELECT count(*) FROM sync.dead_letters WHERE resolved_at IS NULL").fetchall() == [
        (0,)
    ]
    assert_all_synced(state, frame)


def test_persistent_5xx_is_retryable_and_retried_next_run_with_latest_values(hub, con):
    state, url = hub
    state.inject("503", path="/batch/upsert", times=100)
    frame = contacts(30)

    first = sync_hubspot(frame, client_for(url, max_attempts=2), con)

    assert first.aborted is not None and "503" in first.aborted
    assert con.execute("SELECT count(*) FROM sync.sync_state").fetchall() == [(0,)]
    state.faults.clear()
    frame.loc[0, "health_score"] = 99.0

    second = sync_hubspot(frame, client_for(url), con)

    assert (second.inserted, second.failed) == (30, 0)
    assert state.by_unique("contacts", "person0@example.com")["properties"]["cdp_health_score"] == "99"


@pytest.mark.parametrize("retry_after", [None, 3600.0])
def test_daily_limit_stops_the_run_and_the_rerun_finishes_the_job(hub, con, retry_after):
    state, url = hub
    frame = contacts(300)
    client = client_for(url)
    original = client.batch
    sent = {"n": 0}

    def daily_limit_on_second_batch(object_type, action, body):
        sent["n"] += 1
        if sent["n"] == 2:
            state.inject("429_daily", path="/batch/upsert", retry_after=retry_after)
        return original(object_type, action, body)

    client.batch = daily_limit_on_second_batch
    started = time.monotonic()
    first = sync_hubspot(frame, client, con)

    # Stops at once, even when HubSpot says to come back in an hour: no retry, no waiting.
    assert time.monotonic() - started < 5
    assert [s for path, _, s in state.writes()].count(429) == 1
    assert first.inserted == 100 and "daily API limit" in (first.aborted or "")
    assert con.execute("SELECT count(*) FROM sync.sync_state").fetchall() == [(100,)]
    second = sync_hubspot(frame, client_for(url), con)
    assert (second.inserted, second.unchanged) == (200, 100)
    assert_all_synced(state, frame)


def test_crash_between_batches_loses_nothing_and_duplicates_nothing(hub, con, monkeypatch):
    state, url = hub
    frame = contacts(350)
    real_save = _engine._save
    saves = {"n": 0}

    def crash_after_second_batch(*args, **kwargs):
        saves["n"] += 1
        if saves["n"] == 3:  # 1: run header, 2: batch 1, 3: batch 2 (confirmed by HubSpot, not yet saved)
            raise SystemExit("killed")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(_engine, "_save", crash_after_second_batch)
    with pytest.raises(SystemExit):
        sync_hubspot(frame, client_for(url), con)
    monkeypatch.setattr(_engine, "_save", real_save)
    assert con.execute("SELECT count(*) FROM sync.sync_state").fetchall() == [(100,)]

    rerun = sync_hubspot(frame, client_for(url), con)

    assert (rerun.unchanged, rerun.updated, rerun.inserted) == (100, 100, 150)
    assert_all_synced(state, frame)
    assert sum(upserts(state)) == 350 + 100  # only the unconfirmed batch was resent
    assert con.execute("SELECT count(*) FROM sync.sync_state").fetchall() == [(350,)]


def test_timeouts_outlasting_the_retries_stop_the_run_and_the_rerun_duplicates_nothing(hub, con):
    state, url = hub
    frame = contacts(150)
    # Every attempt at the second batch is applied by HubSpot but answered too late.
    client = client_for(url, max_attempts=2, timeout_s=0.3)
    original = client.batch
    sent = {"n": 0}

    def slow_second_batch(object_type, action, body):
        sent["n"] += 1
        if sent["n"] == 2:
            state.inject("timeout", path="/batch/upsert", times=2, delay_s=0.6)
        return original(object_type, action, body)

    client.batch = slow_second_batch
    first = sync_hubspot(frame, client, con, run_id="run-1")

    assert first.inserted == 100 and "ReadTimeout" in (first.aborted or "")
    assert con.execute("SELECT count(*) FROM sync.sync_state").fetchall() == [(100,)]
    assert len(state.objects["contacts"]) == 150  # the late answers' writes did land

    rerun = sync_hubspot(frame, client_for(url), con, run_id="run-2")

    assert (rerun.unchanged, rerun.updated, rerun.inserted, rerun.failed) == (100, 50, 0, 0)
    assert_all_synced(state, frame)


def test_dead_letters_explain_every_permanent_failure(hub, con):
    state, url = hub
    frame = contacts(6)
    frame.loc[1, "email"] = "not-an-address"  # HubSpot refuses it
    frame.loc[2, "health_score"] = 150.0  # refused before sending
    frame.loc[4, "email"] = "PERSON3@example.com"  # the same contact twice: a conflict, not a failure

    result = sync_hubspot(frame, client_for(url), con, run_id="run-1")

    assert (result.inserted, result.failed, result.retryable_failed) == (2, 2, 0)
    assert (result.conflicts, result.skipped, result.new_failures) == (2, 2, 2)
    dead = dict(
        con.execute(
            "SELECT record_key, error FROM sync.dead_letters WHERE NOT retryable AND resolved_at IS NULL"
        ).fetchall()
    )
    assert dead == {
        "not-an-address": "VALIDATION_ERROR: Email address not-an-address is invalid",
        "person2@example.com": "health_score 150.0 is outside 0-100",
        "person3@example.com": "2 input records share this email; none of them is sent while they do",
    }
    assert sorted(o["properties"]["email"] for o in state.objects["contacts"].values()) == [
        "person0@example.com",
        "person5@example.com",
    ]


def shared_emails() -> pd.DataFrame:
    """20 customers with an address of their own, and 9 who share 3 addresses (2, 3 and 4 each)."""
    frame = contacts(29)
    for rows, email in (
        ([20, 21], "info@shared.example"),
        ([22, 23, 24], "Sales@Shared.example"),
        ([25, 26, 27, 28], " office@shared.example"),
    ):
        frame.loc[rows, "email"] = email
    return frame


def test_customers_sharing_an_email_are_reported_conflicts_and_the_run_succeeds(hub, con):
    state, url = hub
    frame = shared_emails()

    result = sync_hubspot(frame, client_for(url), con, run_id="run-1")

    assert (result.inserted, result.failed, result.new_failures) == (20, 0, 0)
    assert (result.conflicts, result.skipped, result.errors) == (9, 9, ())
    assert upserts(state) == [20]  # one batch, no shared address in it, so HubSpot took it whole
    assert not any("shared.example" in o["properties"]["email"] for o in state.objects["contacts"].values())
    letters = con.execute(
        "SELECT record_key, operation, retryable, attempts, error, payload FROM sync.dead_letters "
        "WHERE resolved_at IS NULL ORDER BY record_key"
    ).fetchall()
    assert [row[:5] for row in letters] == [
        (
            "info@shared.example",
            "skip_conflict",
            False,
            1,
            "2 input records share this email; none of them is sent while they do",
        ),
        (
            "office@shared.example",
            "skip_conflict",
            False,
            1,
            "4 input records share this email; none of them is sent while they do",
        ),
        (
            "sales@shared.example",
            "skip_conflict",
            False,
            1,
            "3 input records share this email; none of them is sent while they do",
        ),
    ]
    shared_by = {
        key: [r["values"]["cdp_customer_id"] for r in json.loads(p)["records"]] for key, *_, p in letters
    }
    assert shared_by == {
        "info@shared.example": ["cus_00020", "cus_00021"],
        "office@shared.example": ["cus_00025", "cus_00026", "cus_00027", "cus_00028"],
        "sales@shared.example": ["cus_00022", "cus_00023", "cus_00024"],
    }
    log = con.execute(
        "SELECT record_key, status, record_count FROM sync.sync_log WHERE operation = 'skip_conflict' ORDER BY 1"
    ).fetchall()
    assert log == [
        ("info@shared.example", "skipped", 2),
        ("office@shared.example", "skipped", 4),
        ("sales@shared.example", "skipped", 3),
    ]
    calls_before = len(state.calls)

    again = sync_hubspot(frame, client_for(url), con, run_id="run-2")

    assert state.calls[calls_before:] == []
    assert (again.unchanged, again.conflicts, again.failed, again.new_failures) == (20, 9, 0, 0)
    assert con.execute("SELECT max(attempts), max(run_id) FROM sync.dead_letters").fetchall() == [
        (1, "run-1")
    ]


def test_a_shared_email_held_by_one_customer_again_is_sent_and_its_conflict_resolved(hub, con):
    state, url = hub
    frame = shared_emails()
    sync_hubspot(frame, client_for(url), con, run_id="run-1")
    merged = frame.drop(index=[21])  # a steward linked the two customers of info@: one remains

    result = sync_hubspot(merged, client_for(url), con, run_id="run-2")

    assert (result.inserted, result.conflicts, result.unchanged) == (1, 7, 20)
    assert state.by_unique("contacts", "info@shared.example")["properties"]["cdp_customer_id"] == "cus_00020"
    assert con.execute(
        "SELECT record_key FROM sync.dead_letters WHERE resolved_at IS NULL ORDER BY 1"
    ).fetchall() == [("office@shared.example",), ("sales@shared.example",)]


def test_a_customer_joining_a_synced_email_leaves_the_contact_as_it_was(hub, con):
    state, url = hub
    frame = contacts(3)
    sync_hubspot(frame, client_for(url), con)
    joined = pd.concat([frame, contacts(2).iloc[[1]].assign(customer_id="cus_other")], ignore_index=True)

    result = sync_hubspot(joined, client_for(url), con, SyncPolicy(mode="mirror"))

    assert (result.conflicts, result.updated, result.deleted, result.failed) == (2, 0, 0, 0)
    assert state.by_unique("contacts", "person1@example.com")["properties"]["cdp_customer_id"] == "cus_00001"
    writes_before = len(state.writes())

    left = sync_hubspot(frame, client_for(url), con, SyncPolicy(mode="mirror"))

    assert (left.unchanged, left.conflicts, len(state.writes())) == (3, 0, writes_before)
    assert con.execute("SELECT count(*) FROM sync.dead_letters WHERE resolved_at IS NULL").fetchall() == [
        (0,)
    ]


def test_a_repeated_failure_is_reported_but_only_a_new_one_counts_as_new(hub, con):
    state, url = hub
    state.locked = {"person3@example.com"}
    frame = contacts(8)
    frame.loc[5, "health_score"] = 150.0

    first = sync_hubspot(frame, client_for(url), con)
    second = sync_hubspot(frame, client_for(url), con)
    frame.loc[6, "health_score"] = 120.0
    third = sync_hubspot(frame, client_for(url), con)

    assert (first.failed, first.new_failures) == (2, 2)
    assert (second.failed, second.new_failures, second.retryable_failed) == (2, 0, 1)
    assert (third.failed, third.new_failures) == (3, 1)
    assert con.execute("SELECT record_key, attempts FROM sync.dead_letters ORDER BY 1").fetchall() == [
        ("person3@example.com", 3),
        ("person5@example.com", 3),
        ("person6@example.com", 1),
    ]


def test_server_refuses_a_write_batch_naming_one_record_twice_like_hubspot(hub):
    state, url = hub
    client = client_for(url)

    upsert = client.batch(
        "contacts",
        "upsert",
        {
            "inputs": [
                {"idProperty": "email", "id": "a@example.com", "properties": {}},
                {"idProperty": "email", "id": "b@example.com", "properties": {}},
                {"idProperty": "email", "id": "A@Example.com", "properties": {}},
            ]
        },
    )
    ident = state.add("contacts", {"email": "c@example.com"})
    update = client.batch(
        "contacts",
        "update",
        {"inputs": [{"id": ident, "properties": {"firstname": "x"}}, {"id": ident, "properties": {}}]},
    )

    assert upsert.status_code == 400 and update.status_code == 400
    assert upsert.json()["category"] == update.json()["category"] == "VALIDATION_ERROR"
    assert (
        upsert.json()["message"] == "Duplicate IDs found in batch input: [a@example.com]. IDs must be unique"
    )
    assert (upsert.json()["context"], update.json()["context"]) == (
        {"ids": ["a@example.com"]},
        {"ids": [ident]},
    )
    assert [o["properties"]["email"] for o in state.objects["contacts"].values()] == ["c@example.com"]
    assert "firstname" not in state.objects["contacts"][ident]["properties"]


def test_dry_run_reports_plan_per_field_and_writes_nothing(hub, con):
    state, url = hub
    frame = contacts(10)
    sync_hubspot(frame.iloc[:6], client_for(url), con)
    frame.loc[0, "health_tier"] = "churned"
    frame.loc[1, "health_score"] = 0.5
    writes_before, state_before = len(state.writes()), con.execute("SELECT * FROM sync.sync_state").fetchall()

    plan = sync_hubspot(frame, client_for(url), con, SyncPolicy(dry_run=True))

    assert plan.dry_run
    assert plan.plan == {
        "create": 4,
        "update": 2,
        "delete": 0,
        "skip": 0,
        "invalid": 0,
        "fields": {
            "cdp_customer_id": 4,
            "cdp_health_drivers": 4,
            "cdp_health_score": 5,
            "cdp_health_tier": 5,
        },
    }
    assert len(state.writes()) == writes_before
    assert con.execute("SELECT * FROM sync.sync_state").fetchall() == state_before


def test_circuit_breaker_aborts_before_any_write(hub, con):
    state, url = hub
    frame = contacts(200)
    sync_hubspot(frame, client_for(url), con)
    frame["health_score"] = 100.0
    writes_before = len(state.writes())

    with pytest.raises(CircuitBreakerOpen, match="200 updates and 0 deletes would touch 100%"):
        sync_hubspot(frame, client_for(url), con, SyncPolicy(max_change_share=0.25))

    assert len(state.writes()) == writes_before
    assert state.by_unique("contacts", "person1@example.com")["properties"]["cdp_health_score"] != "100"


def test_mirror_archives_only_records_this_tool_created(hub, con):
    state, url = hub
    client = client_for(url)
    sync_hubspot(contacts(0), client, con)
    # A contact a salesperson created; the CDP later syncs fields onto it.
    client.batch(
        "contacts",
        "upsert",
        {"inputs": [{"idProperty": "email", "id": "person0@example.com", "properties": {}}]},
    )
    mirror = SyncPolicy(mode="mirror", breaker_min_records=1000)
    sync_hubspot(contacts(5), client, con, mirror)

    result = sync_hubspot(contacts(5).iloc[[2, 3]], client, con, mirror)

    assert result.deleted == 2  # person1 and person4; person0 was not ours
    remaining = sorted(o["properties"]["email"] for o in state.objects["contacts"].values())
    assert remaining == ["person0@example.com", "person2@example.com", "person3@example.com"]


def test_update_only_and_create_only_respect_existing_records(hub, con):
    state, url = hub
    client = client_for(url)
    sync_hubspot(contacts(2), client, con, run_id="seed")
    frame = contacts(4)
    frame["health_tier"] = "changed"

    update_only = sync_hubspot(frame, client, con, SyncPolicy(mode="update_only"), run_id="u")
    assert (update_only.updated, update_only.inserted, update_only.retryable_failed) == (2, 0, 2)
    assert len(state.objects["contacts"]) == 2

    frame["health_tier"] = "again"
    create_only = sync_hubspot(frame, client, con, SyncPolicy(mode="create_only"), run_id="c")
    assert (create_only.inserted, create_only.skipped) == (2, 2)
    assert state.by_unique("contacts", "person0@example.com")["properties"]["cdp_health_tier"] == "changed"
    assert state.by_unique("contacts", "person3@example.com")["properties"]["cdp_health_tier"] == "again"


def test_null_protection_and_crm_owned_fields(hub, con):
    state, url = hub
    frame = contacts(3)
    sync_hubspot(frame, client_for(url), con)
    frame["health_tier"] = frame["health_tier"].astype(object)
    frame.loc[0, "health_tier"] = None
    frame.loc[1, "customer_id"] = "cus_new"
    frame.loc[1, "health_drivers"] = "new driver"
    owned = SyncPolicy(crm_owned_fields=frozenset({"cdp_health_drivers"}))

    sync_hubspot(frame, client_for(url), con, owned)

    first = state.by_unique("contacts", "person0@example.com")["properties"]
    second = state.by_unique("contacts", "person1@example.com")["properties"]
    assert first["cdp_health_tier"] == "at_risk"  # null never overwrote the value
    assert (second["cdp_customer_id"], second["cdp_health_drivers"]) == ("cus_new", "driver 1")

    sync_hubspot(frame, client_for(url), con, SyncPolicy(overwrite_nulls=True))
    assert state.by_unique("contacts", "person0@example.com")["properties"]["cdp_health_tier"] == ""


def test_read_back_finds_values_changed_in_the_crm(hub, con):
    state, url = hub
    sync_hubspot(contacts(30), client_for(url), con)
    destination = HubSpotDestination(client_for(url))

    checked, problems = read_back(destination, con, sample=30, seed=1)
    assert (checked, problems) == (30, [])

    state.by_unique("contacts", "person4@example.com")["properties"]["cdp_health_tier"] = "edited by hand"
    checked, problems = read_back(destination, con, sample=30, seed=1)
    assert problems == ["record person4@example.com: field cdp_health_tier differs from what was confirmed"]


def test_reads_page_by_100_with_the_after_cursor(hub, con):
    state, url = hub
    sync_hubspot(contacts(230), client_for(url), con)

    frame = read_objects(client_for(url), "contacts", ["email", "cdp_health_tier"])

    assert len(frame) == 230 and frame["email"].nunique() == 230
    pages = [c for c in state.calls if c[0] == "GET" and c[1] == "/crm/v3/objects/contacts"]
    assert len(pages) == 3


def test_client_limiter_stays_under_the_server_limit(hub, con):
    state, url = hub
    state.rate_limit, state.window_s = 5, 1.0
    client = client_for(url, rate_limit=4, window_s=1)
    started = time.monotonic()

    for _ in range(12):
        client.request("GET", "/crm/v3/properties/contacts")

    assert [s for *_, s in state.calls] == [200] * 12  # the server's 429 never fired
    assert time.monotonic() - started >= 2.0  # 12 calls at 4 per second span two full windows


def test_list_sync_adds_and_removes_only_the_difference(hub, con):
    state, url = hub
    client = client_for(url)
    sync_hubspot(contacts(6), client, con)
    first = sync_list(
        client,
        "At risk",
        pd.DataFrame({"email": ["person0@example.com", "PERSON1@example.com", "nobody@x.io"]}),
    )
    assert (first.added, first.removed, first.matched, first.unmatched) == (2, 0, 2, 1)
    calls_before = len(state.calls)

    second = sync_list(
        client, "At risk", pd.DataFrame({"email": ["person1@example.com", "person2@example.com"]})
    )

    assert (second.added, second.removed) == (1, 1)
    ids = {state.by_unique("contacts", f"person{i}@example.com")["id"] for i in (1, 2)}
    assert state.members[second.list_id] == ids
    puts = [(c[1].rsplit("/", 1)[-1], c[2]) for c in state.calls[calls_before:] if c[0] == "PUT"]
    assert puts == [("add", 1), ("remove", 1)]


def test_token_never_appears_in_logs_or_errors(hub, con, caplog):
    state, url = hub
    caplog.set_level(logging.DEBUG)
    state.inject("503", times=100)
    result = sync_hubspot(contacts(3), client_for(url, max_attempts=2), con)
    assert TOKEN not in caplog.text and TOKEN not in (result.aborted or "")
    with pytest.raises(Exception, match="CDP_HUBSPOT_TOKEN") as error:
        state.faults.clear()
        HubSpotClient("wrong-token", base_url=url).request("GET", "/crm/v3/properties/contacts")
    assert "wrong-token" not in str(error.value)
