"""File sources: good rows load with lineage, bad rows are quarantined with file, line, field and reason."""

import json
from pathlib import Path

import pandas as pd

from connectors.files import Release, read_source, source


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _event(**overrides) -> str:
    message = {
        "type": "identify",
        "messageId": "m1",
        "anonymousId": "anon-1",
        "userId": "usr_1",
        "timestamp": "2026-05-01T10:00:00.000Z",
        "traits": {"email": "jane@acme.com", "firstName": "Jane"},
        "context": {
            "ip": "203.0.113.9",
            "userAgent": "Mozilla/5.0",
            "campaign": {"source": "linkedin", "medium": "paid", "name": "q2-launch"},
            "page": {"path": "/pricing", "url": "https://example.org/pricing"},
        },
    }
    message.update(overrides)
    return json.dumps(message)


def test_segment_events_flatten_and_bad_lines_are_quarantined(tmp_path):
    lines = [
        _event(),
        "{not json",
        _event(messageId="m3", timestamp="yesterday"),
        _event(messageId="m4", type="shout"),
        _event(messageId="m5", type="track", event=None),
        _event(messageId="m6", anonymousId=None, userId=None),
        _event(messageId="m7", type="page", name="Pricing", timestamp="2026-05-01T12:00:00+02:00"),
    ]
    _write(tmp_path / "events" / "events-2026-05.jsonl", "\n".join(lines) + "\n")
    result = read_source(source("events"), tmp_path, run_id="run-1")

    assert result.rows["message_id"].tolist() == ["m1", "m7"]
    first = result.rows.iloc[0]
    assert first["traits_email"] == "jane@acme.com"
    assert (first["utm_source"], first["utm_medium"], first["utm_campaign"]) == (
        "linkedin",
        "paid",
        "q2-launch",
    )
    assert first["context_ip"] == "203.0.113.9"
    assert first["page_path"] == "/pricing"
    assert first["occurred_at"] == pd.Timestamp("2026-05-01 10:00:00")
    assert result.rows.iloc[1]["occurred_at"] == pd.Timestamp("2026-05-01 10:00:00")  # +02:00 → UTC
    assert first["_source_file"] == "events/events-2026-05.jsonl" and first["_source_line"] == 1

    rejects = result.rejects.set_index("source_line")
    assert rejects.loc[2, "rule"] == "unparseable" and "invalid JSON" in rejects.loc[2, "reason"]
    assert rejects.loc[3, "field"] == "timestamp" and rejects.loc[3, "raw_value"] == "yesterday"
    assert rejects.loc[3, "record_key"] == "m3"
    assert rejects.loc[4, "field"] == "type" and rejects.loc[4, "rule"] == "literal_error"
    assert "event name" in rejects.loc[5, "reason"]
    assert "anonymousId or a userId" in rejects.loc[6, "reason"]
    assert set(result.rejects["run_id"]) == {"run-1"}
    assert len(result.rows) + len(result.rejects) == len(lines)


def test_nps_score_out_of_range_and_not_a_number(tmp_path):
    _write(
        tmp_path / "service" / "nps_responses.csv",
        "response_id,responded_at,email,score,comment,survey_name\n"
        "r1,2026-05-01 09:00:00,a@x.com,9,great,Q2\n"
        "r2,2026-05-01 09:00:00,b@x.com,11,,Q2\n"
        "r3,2026-05-01 09:00:00,c@x.com,ten,,Q2\n"
        "r4,2026-05-01 09:00:00,d@x.com,0,,Q2\n",
    )
    result = read_source(source("nps_responses"), tmp_path, run_id="r")
    assert result.rows["response_id"].tolist() == ["r1", "r4"]
    assert result.rows["score"].tolist() == [9, 0]
    rejects = result.rejects.set_index("source_line")
    assert rejects.loc[3, "field"] == "score" and rejects.loc[3, "rule"] == "less_than_equal"
    assert rejects.loc[4, "field"] == "score" and rejects.loc[4, "raw_value"] == "ten"


def test_ticket_solved_before_created_and_bad_date(tmp_path):
    header = "ticket_id,created_at,solved_at,requester_name,requester_email,requester_phone,subject,status,priority,channel,csat_score,is_escalated\n"
    _write(
        tmp_path / "service" / "tickets.csv",
        header
        + "t1,2026-05-01 09:00:00,2026-05-02 09:00:00,Jane,jane@x.com,,Login,solved,high,email,5,false\n"
        + "t2,2026-05-03 09:00:00,2026-05-02 09:00:00,Joe,joe@x.com,,Bug,solved,low,web,,true\n"
        + "t3,31/12/2026,,Ann,ann@x.com,,Bug,open,low,web,,\n",
    )
    result = read_source(source("tickets"), tmp_path, run_id="r")
    assert result.rows["ticket_id"].tolist() == ["t1"]
    assert result.rows.iloc[0]["csat_score"] == 5 and not result.rows.iloc[0]["is_escalated"]
    rejects = result.rejects.set_index("record_key")
    assert "before created_at" in rejects.loc["t2", "reason"]
    assert rejects.loc["t3", "field"] == "created_at" and rejects.loc["t3", "source_line"] == 4


def test_lead_channels_map_to_one_layout_and_unknown_files_are_named(tmp_path):
    _write(
        tmp_path / "leads" / "video_ad_form.csv",
        "lead_id,created_time,full_name,email,phone_number,company_name,campaign_name,ad_name\n"
        "v1,2026-04-01T08:00:00Z,Li Na,li.na@corp.cn,+8613800138000,Corp,spring,ad-7\n",
    )
    _write(
        tmp_path / "leads" / "hotline.csv",
        "call_id,call_started_at,caller_number,caller_name,company,agent,notes\n"
        "c1,2026-04-02 10:00:00,(650) 253-0000,Bob Smith,Acme,agent-3,asked for a demo\n",
    )
    _write(tmp_path / "leads" / "fax_leads.csv", "a,b\n1,2\n")
    result = read_source(source("lead_forms"), tmp_path, run_id="r")
    rows = result.rows.set_index("lead_id")
    assert rows.loc["video_ad_form:v1", "channel"] == "video_ad_form"
    assert rows.loc["video_ad_form:v1", "phone"] == "+8613800138000"
    assert rows.loc["video_ad_form:v1", "campaign_name"] == "spring"
    assert rows.loc["hotline:c1", "full_name"] == "Bob Smith"
    assert rows.loc["hotline:c1", "agent"] == "agent-3"
    assert len(result.rejects) == 1
    reject = result.rejects.iloc[0]
    assert reject["source_file"] == "leads/fax_leads.csv" and reject["rule"] == "unknown_file"
    assert "web_form*.csv" in reject["reason"]


def test_missing_required_column_rejects_the_file_and_new_columns_are_reported(tmp_path):
    _write(
        tmp_path / "consent" / "consent_log.csv",
        "consent_id,subject_email,purpose,recorded_at\nc1,a@x.com,analytics,2026-01-01\n",
    )
    _write(
        tmp_path / "email" / "esp_export.csv",
        "email,campaign_id,campaign_name,event,timestamp,url,bounce_type,device\n"
        "a@x.com,c1,Spring,open,2026-03-01 10:00:00,,,mobile\n"
        "not-an-email,c1,Spring,open,2026-03-01 10:00:00,,,mobile\n",
    )
    consent = read_source(source("consent_log"), tmp_path, run_id="r")
    assert consent.rows.empty
    assert consent.rejects.iloc[0]["rule"] == "missing_columns"
    assert consent.rejects.iloc[0]["field"] == "status"

    email = read_source(source("email_activity"), tmp_path, run_id="r")
    assert email.rows["email"].tolist() == ["a@x.com"]
    assert email.unexpected_columns == {"email/esp_export.csv": ["device"]}
    assert email.rejects.iloc[0]["field"] == "email"


def test_empty_landing_folder_gives_typed_empty_tables(tmp_path):
    result = read_source(source("tickets"), tmp_path, run_id="r")
    assert result.rows.empty and result.rejects.empty and result.files == []
    assert str(result.rows["created_at"].dtype) == "datetime64[us]"
    assert str(result.rows["csat_score"].dtype) == "Int64"


def test_missing_fields_and_emails_get_their_own_rules(tmp_path):
    _write(
        tmp_path / "events" / "events-2026-05.jsonl",
        json.dumps({k: v for k, v in json.loads(_event()).items() if k != "timestamp"}) + "\n",
    )
    _write(
        tmp_path / "service" / "tickets.csv",
        "ticket_id,created_at,requester_email,status,priority\n"
        ",2026-05-01 09:00:00,a@x.com,open,low\n"
        "t2,,a@x.com,open,low\n"
        "t3,2026-05-01 09:00:00,a@x,open,low\n"
        "t4,2026-05-01 09:00:00,a@x.com,open,low\n",
    )
    events = read_source(source("events"), tmp_path, run_id="r").rejects.iloc[0]
    assert (events["field"], events["rule"], events["record_key"]) == ("timestamp", "missing_value", "m1")
    assert pd.isna(events["raw_value"])
    tickets = read_source(source("tickets"), tmp_path, run_id="r")
    assert tickets.rows["ticket_id"].tolist() == ["t4"]
    assert tickets.rejects[["source_line", "field", "rule"]].values.tolist() == [
        [2, "ticket_id", "missing_key"],
        [3, "created_at", "missing_value"],
        [4, "requester_email", "invalid_email"],
    ]
    assert tickets.rejects["reason"].tolist()[:2] == [
        "required field 'ticket_id' is empty or absent",
        "required field 'created_at' is empty or absent",
    ]
    assert tickets.rejects["row_hash"].str.len().eq(16).all()
    assert [d["column"] for d in tickets.drift if d["change"] == "missing"] == [
        "channel",
        "csat_score",
        "is_escalated",
        "requester_name",
        "requester_phone",
        "solved_at",
        "subject",
    ]


def test_a_release_fixes_or_accepts_a_row_only_while_it_is_unchanged(tmp_path):
    _write(
        tmp_path / "service" / "nps_responses.csv",
        "response_id,responded_at,email,score\nr1,2026-05-01 09:00:00,bad-email,9\n",
    )
    first = read_source(source("nps_responses"), tmp_path, run_id="r").rejects.iloc[0]
    fingerprint = first["row_hash"]
    line = ("service/nps_responses.csv", 2)
    fixed = read_source(
        source("nps_responses"),
        tmp_path,
        run_id="r",
        releases={line: Release(fingerprint, "fix", {"email": "a@x.com"})},
    )
    assert fixed.rows[["email", "_release_action"]].values.tolist() == [["a@x.com", "fix"]]
    assert fixed.rejects.empty and fixed.releases_applied == 1
    accepted = read_source(
        source("nps_responses"), tmp_path, run_id="r", releases={line: Release(fingerprint, "accept")}
    )
    assert accepted.rows[["email", "_release_action"]].values.tolist() == [["bad-email", "accept"]]
    stale = read_source(
        source("nps_responses"), tmp_path, run_id="r", releases={line: Release("0" * 16, "accept")}
    )
    assert (
        stale.rows.empty and stale.rejects.iloc[0]["rule"] == "invalid_email" and stale.releases_applied == 0
    )
