"""Each kind of bad row, injected into real landing files, lands in quarantine; the good rows still load.

The ingest asset runs for real (Dagster materialize into a scratch warehouse), so this covers the
reader, the quarantine writer and the schema-drift table together.
"""

import csv
import json
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from connectors.files import source
from connectors.sample import generate
from orchestration.assets.ingest import file_assets
from orchestration.resources import CdpSettings


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sample")
    generate(folder, customers=20, seed=3, as_of=date(2026, 11, 1), malformed_per_kind=0)
    return folder


@pytest.fixture
def landing(sample, tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "landing"
    shutil.copytree(sample, folder)
    monkeypatch.setenv("CDP_LANDING_DIR", str(folder))
    monkeypatch.setenv("CDP_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    return folder


def ingest(landing: Path, name: str) -> None:
    """Materialize one file source's ingest asset into the scratch warehouse."""
    src = source(name)
    asset = next(a for a in file_assets if a.key == dg.AssetKey([src.schema, src.table]))
    assert dg.materialize([asset], resources={"cdp": CdpSettings()}).success


def query(landing: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(landing.parent / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).df()


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def append_csv_row(path: Path, changes: dict[str, str], drop: tuple[str, ...] = ()) -> tuple[int, dict]:
    """Append a copy of the file's first data row with ``changes``; return its physical line and the row."""
    rows = csv_rows(path)
    assert rows, f"{path} has no data rows to copy"
    row = {**rows[0], **changes}
    with path.open("a", encoding="utf-8", newline="") as handle:
        csv.DictWriter(handle, fieldnames=list(rows[0])).writerow(row)
    return path.read_text(encoding="utf-8").count("\n"), row


def assert_good_rows_loaded(landing: Path, table: str, relative: str, expected: int) -> None:
    loaded = query(landing, f"SELECT count(*) AS n FROM {table} WHERE _source_file = '{relative}'")["n"][0]
    assert loaded == expected, f"{expected} good rows of {relative} should reach {table}, got {loaded}"


@pytest.mark.parametrize(
    ("name", "relative", "changes", "field", "rule", "raw", "reason"),
    [
        (
            "lead_forms",
            "leads/web_form.csv",
            {"submission_id": "99001", "email": "jane.doe.at.example.com"},
            "email",
            "invalid_email",
            "jane.doe.at.example.com",
            "not an email address",
        ),
        (
            "tickets",
            "service/tickets.csv",
            {"ticket_id": "99002", "created_at": "2026-02-30T10:00:00Z", "solved_at": ""},
            "created_at",
            "datetime_from_date_parsing",
            "2026-02-30T10:00:00Z",
            "day value is outside expected range",
        ),
        (
            "nps_responses",
            "service/nps_responses.csv",
            {"response_id": " "},
            "response_id",
            "missing_key",
            None,
            "required field 'response_id' is empty",
        ),
        (
            "nps_responses",
            "service/nps_responses.csv",
            {"response_id": "R_wrong_type", "score": "ten"},
            "score",
            "int_parsing",
            "ten",
            "valid integer",
        ),
        (
            "tickets",
            "service/tickets.csv",
            {"ticket_id": "99003", "csat_score": "9"},
            "csat_score",
            "less_than_equal",
            "9",
            "less than or equal to 5",
        ),
    ],
    ids=["bad_email", "impossible_date", "missing_key", "wrong_type", "out_of_range"],
)
def test_bad_csv_row_is_quarantined_and_the_rest_of_the_file_loads(
    landing, name, relative, changes, field, rule, raw, reason
):
    path = landing / relative
    good = len(csv_rows(path))
    line, _ = append_csv_row(path, changes)
    ingest(landing, name)

    src = source(name)
    quarantined = query(landing, f"SELECT * FROM quarantine.{src.schema}__{src.table}")
    assert len(quarantined) == 1, quarantined[["field", "rule", "reason"]]
    row = quarantined.iloc[0]
    assert (row["source_file"], row["source_line"], row["field"], row["rule"]) == (
        relative,
        line,
        field,
        rule,
    )
    assert reason in row["reason"]
    assert (None if pd.isna(row["raw_value"]) else row["raw_value"]) == raw
    assert pd.isna(row["released_at"]) and len(row["row_hash"]) == 16
    assert_good_rows_loaded(landing, f"{src.schema}.{src.table}", relative, good)


def test_unparseable_json_line_is_quarantined_and_the_other_lines_load(landing):
    path = sorted((landing / "events").glob("*.jsonl"))[-1]
    relative = path.relative_to(landing).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    broken = '{"type": "track", "messageId": "broken'
    path.write_text("\n".join([*lines[:2], broken, *lines[2:]]) + "\n", encoding="utf-8")
    ingest(landing, "events")

    quarantined = query(landing, "SELECT * FROM quarantine.raw_marketing__events")
    assert quarantined[["source_file", "source_line", "rule"]].values.tolist() == [
        [relative, 3, "unparseable"]
    ]
    assert quarantined["reason"][0].startswith("invalid JSON")
    assert quarantined["raw_value"][0] == broken
    assert_good_rows_loaded(landing, "raw_marketing.events", relative, len(lines))
    lines_loaded = query(
        landing, f"SELECT _source_line FROM raw_marketing.events WHERE _source_file = '{relative}' ORDER BY 1"
    )["_source_line"].tolist()
    assert lines_loaded == [n for n in range(1, len(lines) + 2) if n != 3]


def test_file_missing_a_required_column_is_quarantined_whole_and_other_files_load(landing):
    path = landing / "leads" / "video_ad_form.csv"
    rows = csv_rows(path)
    header = [c for c in rows[0] if c != "created_time"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    web_rows = len(csv_rows(landing / "leads" / "web_form.csv"))
    ingest(landing, "lead_forms")

    quarantined = query(landing, "SELECT * FROM quarantine.raw_marketing__lead_forms")
    assert len(quarantined) == 1
    row = quarantined.iloc[0]
    assert (row["source_file"], row["source_line"], row["field"], row["rule"]) == (
        "leads/video_ad_form.csv",
        1,
        "created_time",
        "missing_columns",
    )
    assert row["raw_value"] == ",".join(header) and "drop the file again" in row["reason"]
    assert_good_rows_loaded(landing, "raw_marketing.lead_forms", "leads/video_ad_form.csv", 0)
    assert_good_rows_loaded(landing, "raw_marketing.lead_forms", "leads/web_form.csv", web_rows)
    drift = query(landing, 'SELECT source_file, "column", change, detail FROM quality.schema_drift')
    assert ["leads/video_ad_form.csv", "created_time", "missing", "required; the file is quarantined"] in (
        drift.values.tolist()
    )


def test_new_columns_never_break_the_run_and_are_recorded_as_drift(landing):
    tickets = landing / "service" / "tickets.csv"
    rows = csv_rows(tickets)
    with tickets.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0], "sla_breached"])
        writer.writeheader()
        writer.writerows({**r, "sla_breached": "no"} for r in rows)
    events = sorted((landing / "events").glob("*.jsonl"))[0]
    messages = [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines()]
    events.write_text("\n".join(json.dumps({**m, "sentAt": m["timestamp"]}) for m in messages) + "\n")
    ingest(landing, "tickets")
    ingest(landing, "events")

    assert_good_rows_loaded(landing, "raw_service.tickets", "service/tickets.csv", len(rows))
    assert_good_rows_loaded(
        landing, "raw_marketing.events", events.relative_to(landing).as_posix(), len(messages)
    )
    drift = query(landing, "SELECT * FROM quality.schema_drift WHERE change = 'new' ORDER BY source_table")
    assert drift[["source_table", "source_file", "column"]].values.tolist() == [
        ["events", events.relative_to(landing).as_posix(), "sentAt"],
        ["tickets", "service/tickets.csv", "sla_breached"],
    ]
    assert drift["detail"].tolist() == [f"in {len(messages)} line(s); ignored", "not in the schema; ignored"]
    assert drift["run_id"].notna().all() and drift["detected_at"].notna().all()
    assert query(landing, "SELECT count(*) AS n FROM quarantine.raw_service__tickets")["n"][0] == 0
