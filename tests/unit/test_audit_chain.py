"""The hash-chained audit log: tampering, truncation and renumbering are reported at the exact seq."""

import hashlib
import json
from datetime import datetime

import duckdb
import pytest
from typer.testing import CliRunner

import governance
from connectors import warehouse
from governance._audit import record_hash
from orchestration.cli import app
from tests.unit import test_quarantine_release as releases
from tests.unit.test_quarantine_kinds import append_csv_row, ingest, query

sample = releases.sample
landing = releases.landing
wide_console = releases.wide_console

runner = CliRunner()


def _append_five(con: duckdb.DuckDBPyConnection) -> list[dict]:
    return [
        governance.append(
            con,
            actor=f"steward-{n}",
            action="test.change",
            entity_type="table",
            entity_id=f"raw_test.t{n}",
            before={"rows": [n]},
            after={"rows": [n, n + 1]},
            details={"rows": n},
        )
        for n in range(1, 6)
    ]


@pytest.fixture
def con(tmp_path):
    with warehouse.connect(tmp_path / "warehouse.duckdb") as connection:
        yield connection


@pytest.fixture
def cli_warehouse(tmp_path, monkeypatch):
    """A warehouse with five audit records, the one the CLI opens; closed before the CLI runs."""
    path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("CDP_WAREHOUSE_PATH", str(path))
    with warehouse.connect(path) as connection:
        _append_five(connection)
    return path


def _sql(path, statement: str) -> None:
    with duckdb.connect(str(path)) as connection:
        connection.execute(statement)


def test_appended_records_chain_from_genesis_and_verify_intact(con):
    written = _append_five(con)
    assert [r["seq"] for r in written] == [1, 2, 3, 4, 5]
    assert written[0]["prev_hash"] == governance.GENESIS_HASH == "0" * 64
    assert [r["prev_hash"] for r in written[1:]] == [r["hash"] for r in written[:-1]]
    assert written[2]["before_digest"] == governance.digest({"rows": [3]})
    # The digest is of the canonical JSON: sorted keys, no spaces.
    assert governance.digest({"b": 1, "a": [2]}) == (hashlib.sha256(b'{"a":[2],"b":1}').hexdigest())
    assert written[2]["details"] == '{"rows":3}'
    result = governance.verify(con)
    assert (result.intact, result.records, result.head_seq, result.head_hash) == (
        True,
        5,
        5,
        written[-1]["hash"],
    )


def test_the_record_hash_is_the_documented_canonical_encoding(con):
    record = _append_five(con)[0]
    encoded = json.dumps(
        [
            "cdp-audit-v1",
            1,
            record["recorded_at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "steward-1",
            "test.change",
            "table",
            "raw_test.t1",
            governance.digest({"rows": [1]}),
            governance.digest({"rows": [1, 2]}),
            '{"rows":1}',
            "0" * 64,
        ],
        separators=(",", ":"),
    )
    assert record["hash"] == hashlib.sha256(encoded.encode()).hexdigest()
    stored = con.execute("SELECT recorded_at FROM governance.audit_log WHERE seq = 1").fetchall()[0][0]
    assert stored == record["recorded_at"], "the time survives the round trip to the microsecond"


@pytest.mark.parametrize(
    "change",
    [
        "details = '{\"rows\":99}'",
        "after_digest = '" + "f" * 64 + "'",
        "actor = 'someone-else'",
        "recorded_at = recorded_at + INTERVAL 1 SECOND",
    ],
)
def test_an_updated_field_is_reported_at_its_exact_seq(con, change):
    _append_five(con)
    con.execute(f"UPDATE governance.audit_log SET {change} WHERE seq = 3")
    result = governance.verify(con)
    assert (result.intact, result.broken_seq, result.problem, result.records) == (
        False,
        3,
        "hash_mismatch",
        2,
    )


def test_a_rewritten_record_with_a_recomputed_hash_breaks_the_next_link(con):
    _append_five(con)
    row = con.execute("SELECT * FROM governance.audit_log WHERE seq = 2").fetchall()[0]
    columns = [d[0] for d in con.description]
    forged = {**dict(zip(columns, row, strict=True)), "details": '{"rows":0}'}
    con.execute(
        "UPDATE governance.audit_log SET details = ?, hash = ? WHERE seq = 2",
        [forged["details"], record_hash(forged)],
    )
    result = governance.verify(con)
    assert (result.broken_seq, result.problem) == (3, "prev_hash_mismatch")


def test_a_deleted_middle_record_is_a_seq_gap(con):
    _append_five(con)
    con.execute("DELETE FROM governance.audit_log WHERE seq = 3")
    result = governance.verify(con)
    assert (result.broken_seq, result.problem) == (4, "seq_gap")
    assert "expected seq 3, found 4" in result.detail


def test_renumbering_to_close_a_gap_and_swapping_records_are_detected(con):
    _append_five(con)
    con.execute("DELETE FROM governance.audit_log WHERE seq = 3")
    con.execute("UPDATE governance.audit_log SET seq = seq - 1 WHERE seq = 4")
    con.execute("UPDATE governance.audit_log SET seq = seq - 1 WHERE seq = 5")
    result = governance.verify(con)
    assert (result.broken_seq, result.problem, result.records) == (3, "hash_mismatch", 2)


def test_swapped_records_are_detected_at_the_first_swapped_seq(con):
    _append_five(con)
    con.execute("UPDATE governance.audit_log SET seq = 0 WHERE seq = 2")
    con.execute("UPDATE governance.audit_log SET seq = 2 WHERE seq = 4")
    con.execute("UPDATE governance.audit_log SET seq = 4 WHERE seq = 0")
    result = governance.verify(con)
    assert (result.broken_seq, result.problem, result.records) == (2, "hash_mismatch", 1)


def test_deleting_the_tail_is_reported_against_the_anchor(con, tmp_path):
    _append_five(con)
    anchors = tmp_path / "audit" / "anchors.jsonl"
    head = governance.anchor(con, anchors)
    assert (head["seq"], head["hash"]) == (5, governance.verify(con).head_hash)
    assert json.loads(anchors.read_text().splitlines()[0])["seq"] == 5
    assert governance.verify(con, anchors).intact
    assert governance.verify(con, anchors).anchors == 1

    con.execute("DELETE FROM governance.audit_log WHERE seq = 5")
    assert governance.verify(con).intact, "without anchors a shorter chain is still consistent"
    result = governance.verify(con, anchors)
    assert (result.intact, result.broken_seq, result.problem, result.records) == (False, 5, "truncated", 4)
    assert "anchor records seq 5 but the chain ends at seq 4" in result.detail


def test_a_whole_rewritten_tail_is_caught_by_an_older_anchor(con, tmp_path):
    _append_five(con)
    anchors = tmp_path / "anchors.jsonl"
    governance.anchor(con, anchors)
    # Rewrite the last record and recompute its hash: the chain is consistent again, the anchor is not.
    row = con.execute("SELECT * FROM governance.audit_log WHERE seq = 5").fetchall()[0]
    forged = {**dict(zip([d[0] for d in con.description], row, strict=True)), "actor": "mallory"}
    con.execute(
        "UPDATE governance.audit_log SET actor = 'mallory', hash = ? WHERE seq = 5", [record_hash(forged)]
    )
    assert governance.verify(con).intact
    result = governance.verify(con, anchors)
    assert (result.broken_seq, result.problem) == (5, "anchor_mismatch")


def test_anchor_writes_only_a_new_head_and_refuses_a_broken_chain(con, tmp_path):
    anchors = tmp_path / "anchors.jsonl"
    assert governance.anchor(con, anchors) is None and not anchors.exists(), "an empty log has no head"
    _append_five(con)
    governance.anchor(con, anchors)
    governance.anchor(con, anchors)
    assert len(anchors.read_text().splitlines()) == 1, "the same head is not anchored twice"
    governance.append(con, actor="a", action="test.change", entity_type="table", entity_id="t")
    governance.anchor(con, anchors)
    assert [json.loads(line)["seq"] for line in anchors.read_text().splitlines()] == [5, 6]
    con.execute("UPDATE governance.audit_log SET details = '{}' WHERE seq = 1")
    with pytest.raises(ValueError, match="broken at seq 1"):
        governance.anchor(con, anchors)


def test_records_are_listed_newest_first_and_filtered_by_action(con):
    assert governance.records(con) == []
    _append_five(con)
    governance.append(con, actor="ann", action="other.thing", entity_type="table", entity_id="t")
    assert [r["seq"] for r in governance.records(con, limit=3)] == [6, 5, 4]
    assert [r["seq"] for r in governance.records(con, action="test.change", limit=2)] == [5, 4]


def test_cli_verify_exits_0_when_intact_and_1_naming_the_broken_seq(cli_warehouse):
    with duckdb.connect(str(cli_warehouse), read_only=True) as connection:
        head = connection.execute("SELECT hash FROM governance.audit_log WHERE seq = 5").fetchall()[0][0]
    intact = runner.invoke(app, ["audit", "verify"])
    assert intact.exit_code == 0, intact.output
    assert f"chain intact: 5 records, head {head}" in intact.output

    _sql(cli_warehouse, "UPDATE governance.audit_log SET after_digest = 'x' WHERE seq = 4")
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "chain broken at seq 4: hash mismatch" in broken.output


def test_cli_anchor_then_truncation_fails_verify(cli_warehouse):
    anchored = runner.invoke(app, ["audit", "anchor"])
    assert anchored.exit_code == 0, anchored.output
    anchors = governance.anchors_file(cli_warehouse)
    assert anchors == cli_warehouse.parent / "audit" / "anchors.jsonl"
    assert "anchored seq 5" in anchored.output and anchors.exists()
    _sql(cli_warehouse, "DELETE FROM governance.audit_log WHERE seq >= 4")
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert "chain broken at seq 4: truncated" in result.output
    assert runner.invoke(app, ["audit", "anchor"]).exit_code == 1, "a truncated chain is not anchored"


def test_cli_log_lists_records(cli_warehouse):
    listed = runner.invoke(app, ["audit", "log", "--limit", "2", "--action", "test.change"])
    assert listed.exit_code == 0, listed.output
    assert "2 record(s)" in listed.output
    assert "steward-5" in listed.output and "steward-4" in listed.output and "steward-3" not in listed.output


def test_quarantine_release_appends_one_record_without_personal_data(landing, monkeypatch):
    monkeypatch.setenv("USER", "steward-ann")
    line, _ = append_csv_row(
        landing / "leads" / "web_form.csv", {"submission_id": "99001", "email": "jane.doe.at.example.com"}
    )
    ingest(landing, "lead_forms")
    released = releases.cli(
        "release", "--source", "lead_forms", "--line", str(line), "--fix", "email=jane.doe@example.com"
    )
    assert released.exit_code == 0, released.output

    audit = query(landing, "SELECT * FROM governance.audit_log")
    assert len(audit) == 1
    record = audit.iloc[0]
    assert (record["seq"], record["actor"], record["action"], record["entity_type"], record["entity_id"]) == (
        1,
        "steward-ann",
        "quarantine.release",
        "table",
        "raw_marketing.lead_forms",
    )
    assert json.loads(record["details"]) == {
        "action": "fix",
        "fixed_fields": ["email"],
        "rows": 1,
        "rules": ["invalid_email"],
    }
    row_hash = query(landing, "SELECT row_hash FROM quarantine.raw_marketing__lead_forms")["row_hash"][0]
    keys = [["leads/web_form.csv", line, row_hash]]
    assert record["before_digest"] == governance.digest({"status": "open", "rows": keys})
    assert record["after_digest"] == governance.digest({"status": "released", "action": "fix", "rows": keys})
    stored = " ".join(str(v) for v in record.tolist())
    assert "jane" not in stored and "example.com" not in stored, "no raw or fixed value in the audit log"
    assert isinstance(record["recorded_at"], datetime)

    verified = runner.invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0 and "chain intact: 1 records" in verified.output


def test_cli_verify_names_a_malformed_anchors_line(cli_warehouse):
    anchors = governance.anchors_file(cli_warehouse)
    anchors.parent.mkdir(parents=True)
    anchors.write_text('{"seq": 5, "hash": "abc"}\nnot json\n', encoding="utf-8")
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 2
    assert "line 2 is not an anchor" in " ".join(result.output.split())
