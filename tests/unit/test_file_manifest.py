"""The file manifest: an unchanged source is not read again, a new daily drop adds only its rows.

Runs the real ingest assets into a scratch warehouse (see ``test_quarantine_kinds``).
"""

import json
import shutil
from pathlib import Path

import dagster as dg

from connectors.files import source
from orchestration.assets.ingest import file_assets
from orchestration.resources import CdpSettings
from tests.unit import test_quarantine_kinds as kinds
from tests.unit.test_quarantine_kinds import csv_rows, query

sample = kinds.sample
landing = kinds.landing


def load(name: str) -> dict:
    """Materialize one file source; return its materialization metadata as plain values."""
    src = source(name)
    asset = next(a for a in file_assets if a.key == dg.AssetKey([src.schema, src.table]))
    result = dg.materialize([asset], resources={"cdp": CdpSettings()})
    assert result.success
    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


def test_an_unchanged_source_is_not_read_again(landing):
    first = load("tickets")
    assert first["load"].startswith("full: first load")
    before = query(landing, "SELECT count(*) AS n, max(_loaded_at) AS at FROM raw_service.tickets")
    second = load("tickets")
    assert second["load"].startswith("unchanged since run"), second["load"]
    after = query(landing, "SELECT count(*) AS n, max(_loaded_at) AS at FROM raw_service.tickets")
    assert after.values.tolist() == before.values.tolist(), "the raw table was not rewritten"
    assert second["dagster/row_count"] == first["dagster/row_count"]
    runs = query(landing, "SELECT count(DISTINCT run_id) AS n FROM quality.ingest_files")["n"][0]
    assert runs == 1, "nothing was read, so nothing was logged as read"


def test_a_new_event_file_adds_only_its_rows_and_replays_change_nothing(landing, tmp_path):
    load("events")
    before = query(landing, "SELECT count(*) AS n FROM raw_marketing.events")["n"][0]
    existing = json.loads((landing / "events" / "events-2026-10.jsonl").read_text().splitlines()[0])
    fresh = {**existing, "messageId": "new-message-1"}
    drop = landing / "events" / "events-2026-11-01.jsonl"
    drop.write_text(json.dumps(existing) + "\n" + json.dumps(fresh) + "\n", encoding="utf-8")

    appended = load("events")
    assert appended["load"].startswith("append: 1 new file(s); read 1 file(s)")
    assert appended["rows_loaded_this_run"] == 1 and appended["duplicates_dropped"] == 1
    after = query(landing, "SELECT count(*) AS n FROM raw_marketing.events")["n"][0]
    assert after == before + 1
    assert (
        query(landing, "SELECT count(*) AS n FROM raw_marketing.events WHERE message_id = 'new-message-1'")[
            "n"
        ][0]
        == 1
    )

    # The same folder loaded from scratch gives the same rows.
    fresh_landing = tmp_path / "again"
    shutil.copytree(landing, fresh_landing)
    columns = "message_id, type, occurred_at, _source_file, _source_line"
    appended_rows = query(landing, f"SELECT {columns} FROM raw_marketing.events ORDER BY ALL")
    landing_parent = landing.parent
    (landing_parent / "warehouse.duckdb").rename(landing_parent / "appended.duckdb")
    load("events")
    full_rows = query(landing, f"SELECT {columns} FROM raw_marketing.events ORDER BY ALL")
    assert appended_rows.equals(full_rows)


def test_a_new_ticket_file_with_a_loaded_ticket_changed_quarantines_it(landing):
    load("tickets")
    path = landing / "service" / "tickets.csv"
    rows = csv_rows(path)
    header = ",".join(rows[0])
    changed = {**rows[0], "subject": "changed later"}
    same = rows[1]
    drop = landing / "service" / "tickets_2026-11-01.csv"
    drop.write_text(
        header + "\n" + ",".join(changed.values()) + "\n" + ",".join(same.values()) + "\n", encoding="utf-8"
    )
    appended = load("tickets")
    assert appended["load"].startswith("append")
    assert appended["rows_loaded_this_run"] == 0 and appended["duplicates_dropped"] == 1
    rejected = query(
        landing, "SELECT source_file, source_line, rule, reason FROM quarantine.raw_service__tickets"
    )
    assert rejected[["source_file", "source_line", "rule"]].values.tolist() == [
        ["service/tickets_2026-11-01.csv", 2, "duplicate_key"]
    ]
    assert "service/tickets.csv line 2" in rejected["reason"][0]


def test_a_changed_file_reloads_the_source(landing):
    load("nps_responses")
    path: Path = landing / "service" / "nps_responses.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    reloaded = load("nps_responses")
    assert reloaded["load"].startswith("full: 1 loaded file(s) changed or gone")
    assert reloaded["dagster/row_count"] == len(lines) - 2
