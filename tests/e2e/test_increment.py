"""A daily increment loaded on top of yesterday's warehouse gives what a full run on today's files gives.

Day N is a sample with its last three weeks of web-form leads and its last week of events held back;
day N+1 drops them as new files into the landing folder. Loading day N and then N+1 takes the
incremental paths (new files appended, identity linking only the new records, dbt and checks on the
grown tables); a fresh warehouse loading the N+1 folder at once is the reference. They must agree:
the same partition of records into customers, every day-N record keeping its customer id, and the same
health scores, tiers and audience members per customer.
"""

import csv
import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from connectors.sample import generate
from tests.e2e._environment import pipeline_environment

pytestmark = pytest.mark.e2e

AS_OF = date(2026, 11, 1)
EVENTS_FROM = "2026-10-25"
LEADS_FROM = "2026-10-11"


def _hold_back_events(landing: Path, drop: Path) -> int:
    path = landing / "events" / "events-2026-10.jsonl"
    kept, held = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        (held if json.loads(line)["timestamp"] >= EVENTS_FROM else kept).append(line)
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    (drop / "events").mkdir(parents=True)
    (drop / "events" / "events-2026-10-25.jsonl").write_text("\n".join(held) + "\n", encoding="utf-8")
    return len(held)


def _hold_back_leads(landing: Path, drop: Path) -> int:
    path = landing / "leads" / "web_form.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header, rows = reader.fieldnames, list(reader)
    kept = [r for r in rows if r["submitted_at"] < LEADS_FROM]
    held = [r for r in rows if r["submitted_at"] >= LEADS_FROM]
    for target, part in ((path, kept), (drop / "leads" / "web_form_2026-10-11.csv", held)):
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            writer.writerows(part)
    return len(held)


def _environment(root: Path, landing: Path, patch: pytest.MonkeyPatch) -> Path:
    root.mkdir(parents=True)
    shutil.copy(landing / "crm.sqlite", root / "crm.sqlite")
    values = pipeline_environment(root, landing, root / "crm.sqlite", AS_OF)
    for key, value in values.items():
        patch.setenv(key, value)
    patch.delenv("CDP_HUBSPOT_TOKEN", raising=False)
    return root / "warehouse.duckdb"


def _state(path: Path) -> dict:
    with duckdb.connect(str(path), read_only=True) as con:
        clusters = con.execute("SELECT record_id, customer_id FROM identity.customer_clusters").df()
        health = con.execute("SELECT customer_id, health_score, health_tier FROM marts.customer_health").df()
        audiences = con.execute("SELECT customer_id FROM audiences.at_risk_customers").df()
        modes = [
            r[0]
            for r in con.execute("SELECT mode FROM identity.resolution_runs ORDER BY finished_at").fetchall()
        ]
        raw = {
            table: con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            for table in (
                "raw_marketing.events",
                "raw_marketing.lead_forms",
                "intermediate.int_person_records",
            )
        }
    members = clusters.groupby("customer_id")["record_id"].agg(lambda r: tuple(sorted(r)))
    by_records = health.assign(records=health["customer_id"].map(members)).set_index("records")
    return {
        "partition": set(members),
        "customer_of": dict(zip(clusters["record_id"], clusters["customer_id"], strict=True)),
        "health": by_records[["health_score", "health_tier"]].sort_index(),
        "at_risk": {members[c] for c in audiences["customer_id"]},
        "rows": raw,
        "identity_modes": modes,
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from orchestration.runner import run_pipeline

    root = tmp_path_factory.mktemp("increment")
    landing = root / "landing"
    generate(landing, customers=120, seed=23, as_of=AS_OF, malformed_per_kind=0)
    drop = root / "drop"
    held = {"events": _hold_back_events(landing, drop), "leads": _hold_back_leads(landing, drop)}
    with pytest.MonkeyPatch.context() as patch:
        daily = _environment(root / "daily", landing, patch)
        assert run_pipeline().success, "day N"
        day_n = _state(daily)
        shutil.copytree(drop, landing, dirs_exist_ok=True)
        increment = run_pipeline()
        assert increment.success, "day N+1 on top of day N"
        incremental = _state(daily)
    with pytest.MonkeyPatch.context() as patch:
        fresh = _environment(root / "fresh", landing, patch)
        assert run_pipeline().success, "day N+1 from an empty warehouse"
        full = _state(fresh)
    return {"held": held, "day_n": day_n, "increment": increment, "incremental": incremental, "full": full}


def test_the_increment_held_back_real_rows(runs):
    assert runs["held"]["events"] > 100 and runs["held"]["leads"] > 3
    assert runs["incremental"]["rows"]["raw_marketing.events"] == (
        runs["day_n"]["rows"]["raw_marketing.events"] + runs["held"]["events"]
    )


def test_the_increment_read_only_the_new_files(runs):
    metadata = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in runs["increment"].get_asset_materialization_events()
    }
    assert metadata["raw_marketing/events"]["load"].value.startswith("append: 1 new file(s)")
    assert metadata["raw_marketing/lead_forms"]["load"].value.startswith("append: 1 new file(s)")
    assert metadata["raw_service/tickets"]["load"].value.startswith("unchanged since run")
    assert runs["incremental"]["identity_modes"] == ["full", "incremental"]


def test_incremental_and_full_agree_on_customers_health_and_audiences(runs):
    incremental, full = runs["incremental"], runs["full"]
    assert incremental["rows"] == full["rows"]
    assert incremental["partition"] == full["partition"]
    pd.testing.assert_frame_equal(incremental["health"], full["health"], check_exact=False, atol=1e-9)
    assert incremental["at_risk"] == full["at_risk"]


def test_day_n_records_keep_their_customer_ids_through_the_increment(runs):
    before, after = runs["day_n"]["customer_of"], runs["incremental"]["customer_of"]
    assert len(after) > len(before)
    assert {record: after[record] for record in before} == before
