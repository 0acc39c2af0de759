"""Files as other people's tools write them: replays, oversized fields, other encodings, odd dates, empty files.

Each case once stopped or corrupted a load; now the bad part is quarantined with its reason and
the rest of the file loads.
"""

import json
from datetime import date
from pathlib import Path

import pandas as pd

from connectors.files import IngestLimits, Release, read_source, source

TICKET_HEADER = (
    "ticket_id,created_at,solved_at,requester_name,requester_email,requester_phone,"
    "subject,status,priority,channel,csat_score,is_escalated\n"
)
LIMITS = IngestLimits.around(date(2026, 11, 1))


def _write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")


def _ticket(ticket_id: str, created: str = "2026-05-01 09:00:00", subject: str = "Login") -> str:
    return f"{ticket_id},{created},,Jane Roe,jane@x.com,,{subject},open,low,email,,false\n"


def _event(message_id: str, **overrides) -> str:
    message = {
        "type": "track",
        "event": "Pricing Viewed",
        "messageId": message_id,
        "anonymousId": "anon-1",
        "timestamp": "2026-05-01T10:00:00Z",
    }
    return json.dumps({**message, **overrides})


def test_a_re_delivered_event_export_adds_nothing_and_is_counted(tmp_path):
    _write(tmp_path / "events" / "a.jsonl", _event("m1") + "\n" + _event("m2") + "\n" + _event("m1") + "\n")
    # The same export delivered again under another name, one message re-sent with a later sentAt.
    _write(
        tmp_path / "events" / "b.jsonl",
        _event("m1", sentAt="2026-05-01T10:05:00Z") + "\n" + _event("m2") + "\n",
    )
    result = read_source(source("events"), tmp_path, run_id="r", limits=LIMITS)
    assert result.rows["message_id"].tolist() == ["m1", "m2"]
    assert result.rows["_source_file"].tolist() == ["events/a.jsonl", "events/a.jsonl"]
    assert result.rejects.empty
    assert result.duplicates_dropped == 3
    assert {s["source_file"]: s["duplicates_dropped"] for s in result.file_stats} == {
        "events/a.jsonl": 1,
        "events/b.jsonl": 2,
    }


def test_a_replayed_ticket_is_dropped_and_a_conflicting_one_quarantined(tmp_path):
    _write(tmp_path / "service" / "tickets_1.csv", TICKET_HEADER + _ticket("t1") + _ticket("t2"))
    _write(
        tmp_path / "service" / "tickets_2.csv", TICKET_HEADER + _ticket("t1") + _ticket("t2", subject="Other")
    )
    result = read_source(source("tickets"), tmp_path, run_id="r", limits=LIMITS)
    assert result.rows[["ticket_id", "subject"]].values.tolist() == [["t1", "Login"], ["t2", "Login"]]
    assert result.duplicates_dropped == 1
    reject = result.rejects.iloc[0]
    assert (reject["source_file"], reject["source_line"], reject["rule"], reject["record_key"]) == (
        "service/tickets_2.csv",
        3,
        "duplicate_key",
        "t2",
    )
    assert "service/tickets_1.csv line 3" in reject["reason"]
    assert len(result.rejects) == 1


def test_one_oversized_field_is_quarantined_and_the_file_goes_on(tmp_path):
    huge = "x" * 200_000
    _write(
        tmp_path / "service" / "tickets.csv",
        TICKET_HEADER + _ticket("t1") + _ticket("t2", subject=huge) + _ticket("t3"),
    )
    result = read_source(source("tickets"), tmp_path, run_id="r", limits=LIMITS)
    assert result.rows["ticket_id"].tolist() == ["t1", "t3"]
    reject = result.rejects.iloc[0]
    assert (reject["source_line"], reject["field"], reject["rule"]) == (3, "subject", "field_too_large")
    assert "200,000 bytes" in reject["reason"] and "CDP_INGEST_MAX_FIELD_BYTES" in reject["reason"]
    assert len(reject["raw_value"]) == 2000


def test_an_oversized_json_line_is_quarantined(tmp_path):
    limits = IngestLimits.around(date(2026, 11, 1), max_field_bytes=1000)
    _write(
        tmp_path / "events" / "a.jsonl",
        _event("m1") + "\n" + _event("m2", properties={"blob": "y" * 2000}) + "\n",
    )
    result = read_source(source("events"), tmp_path, run_id="r", limits=limits)
    assert result.rows["message_id"].tolist() == ["m1"]
    assert result.rejects[["source_line", "rule"]].values.tolist() == [[2, "field_too_large"]]


def test_a_gbk_export_is_read_in_its_own_encoding(tmp_path):
    text = TICKET_HEADER + "".join(
        f"t{i},2026-05-0{i} 09:00:00,,{name},,,{subject},open,low,phone,,false\n"
        for i, (name, subject) in enumerate(
            [
                ("张伟", "无法登录系统"),
                ("李娜", "发票金额错误，请尽快处理"),
                ("王芳", "产品质量问题需要售后服务"),
            ],
            start=1,
        )
    )
    _write(tmp_path / "service" / "tickets.csv", text.encode("gbk"))
    result = read_source(source("tickets"), tmp_path, run_id="r", limits=LIMITS)
    assert result.rejects.empty
    assert result.rows["requester_name"].tolist() == ["张伟", "李娜", "王芳"]
    assert result.rows["subject"].tolist()[0] == "无法登录系统"
    assert result.file_stats[0]["encoding"] in {"gb18030", "gbk", "gb2312"}


def test_a_file_no_encoding_reads_is_quarantined_whole_with_where_it_breaks(tmp_path):
    good = (TICKET_HEADER + _ticket("t1")).encode("utf-8")
    _write(tmp_path / "service" / "tickets.csv", good + bytes(range(128, 256)) * 4 + b"\n")
    result = read_source(source("tickets"), tmp_path, run_id="r", limits=LIMITS)
    assert result.rows.empty
    reject = result.rejects.iloc[0]
    assert (reject["field"], reject["rule"]) == ("(file)", "undecodable_file")
    assert "line 3" in reject["reason"] and "UTF-8" in reject["reason"]
    assert not result.empty_files


def test_implausible_dates_are_quarantined_with_their_rule(tmp_path):
    _write(
        tmp_path / "service" / "tickets.csv",
        TICKET_HEADER
        + _ticket("t1")
        + _ticket("t2", created="0001-01-01")
        + _ticket("t3", created="9999-12-31")
        + _ticket("t4", created="2028-03-01 10:00:00")
        + _ticket("t5", created="1700000000")
        + _ticket("t6", created="2026-11-02 23:00:00")
        + _ticket("t7", created="2026-11-03 00:00:01"),
    )
    result = read_source(source("tickets"), tmp_path, run_id="r", limits=LIMITS)
    # The as-of date is 2026-11-01; one day of lead is allowed for clocks and time zones.
    assert result.rows["ticket_id"].tolist() == ["t1", "t6"]
    rules = result.rejects.set_index("record_key")["rule"].to_dict()
    assert rules == {
        "t2": "implausible_date",
        "t3": "implausible_date",
        "t4": "implausible_date",
        "t5": "not_a_date",
        "t7": "implausible_date",
    }
    reason = result.rejects.set_index("record_key").loc["t4", "reason"]
    assert "2028-03-01 10:00:00" in reason and "2000-01-01 to 2026-11-02" in reason


def test_a_steward_can_accept_an_implausible_date(tmp_path):
    _write(tmp_path / "service" / "tickets.csv", TICKET_HEADER + _ticket("t1", created="1999-06-01 10:00:00"))
    reject = read_source(source("tickets"), tmp_path, run_id="r", limits=LIMITS).rejects.iloc[0]
    release = {("service/tickets.csv", 2): Release(reject["row_hash"], "accept")}
    accepted = read_source(source("tickets"), tmp_path, run_id="r", releases=release, limits=LIMITS)
    assert accepted.rows["created_at"].tolist() == [pd.Timestamp("1999-06-01 10:00:00")]


def test_empty_and_header_only_files_are_reported(tmp_path):
    _write(tmp_path / "service" / "tickets_a.csv", "")
    _write(tmp_path / "service" / "tickets_b.csv", TICKET_HEADER)
    _write(tmp_path / "service" / "tickets_c.csv", TICKET_HEADER + _ticket("t1"))
    result = read_source(source("tickets"), tmp_path, run_id="r", limits=LIMITS)
    assert result.empty_files == ["service/tickets_a.csv", "service/tickets_b.csv"]
    assert result.rows["ticket_id"].tolist() == ["t1"]
