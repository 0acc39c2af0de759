"""Audience definitions: validation, safe compilation, consent enforcement, history and exports."""

import hashlib
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from connectors import audiences

TRAIT_COLUMNS = (
    "customer_id VARCHAR, as_of_date DATE, email VARCHAR, phone VARCHAR, country_code VARCHAR, "
    "company_name VARCHAR, title VARCHAR, health_score DECIMAL(5, 1), health_tier VARCHAR, "
    "journey_stage VARCHAR, latest_nps_score INTEGER, next_renewal_date DATE, days_until_renewal INTEGER, "
    "has_email_marketing_consent BOOLEAN, has_advertising_consent BOOLEAN, is_email_suppressed BOOLEAN"
)
# Every customer qualifies for every shipped audience on its traits; only consent and suppression differ.
TRAITS = [
    # customer_id, email, phone, email consent, advertising consent, suppressed
    ("cus_ok", "ok@example.com", "030 70594291", True, True, False),
    ("cus_no_consent", "no@example.com", "+1 312 933 6651", False, True, False),
    ("cus_suppressed", "gone@example.com", None, True, True, True),
    ("cus_no_email", None, None, True, True, False),
]


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _warehouse(as_of: date = date(2026, 11, 1)) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    con.execute(f"CREATE TABLE marts.audience_traits ({TRAIT_COLUMNS})")
    for customer_id, email, phone, consent, ads, suppressed in TRAITS:
        # Qualifies for at_risk_customers (customer, at_risk), renewal (30 days), detractors (NPS 3);
        # the pricing audience needs a lead, so those rows are added below.
        con.execute(
            "INSERT INTO marts.audience_traits VALUES (?, ?, ?, ?, 'DE', 'Acme', 'CTO', 20.0, 'at_risk', "
            "'customer', 3, ?, 30, ?, ?, ?)",
            [customer_id, as_of, email, phone, date(2026, 12, 1), consent, ads, suppressed],
        )
    con.execute(
        "CREATE TABLE marts.fct_touchpoints (customer_id VARCHAR, event_type VARCHAR, channel VARCHAR, "
        "target_id VARCHAR, occurred_at TIMESTAMP)"
    )
    for customer_id, *_ in TRAITS:
        con.execute(
            "INSERT INTO marts.fct_touchpoints VALUES (?, 'page_view', 'web', '/pricing', ?)",
            [customer_id, pd.Timestamp(as_of) - pd.Timedelta(days=3)],
        )
    return con


def test_unknown_field_is_rejected_naming_file_and_field(tmp_path):
    path = _write(
        tmp_path,
        "bad",
        "name: bad\ndescription: x\npurpose: email_marketing\npriority: 1\n"
        "conditions:\n  - {field: salary, op: gt, value: 100}\n",
    )
    with pytest.raises(audiences.AudienceError) as error:
        audiences.load_audience(path)
    assert str(path) in str(error.value)
    assert "conditions.0.field" in str(error.value) and "unknown field 'salary'" in str(error.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("purpose: spam\npriority: 1\n", "unknown purpose 'spam'"),
        (
            "purpose: email_marketing\npriority: 1\nevents:\n  - {match: {page_url: /x}, within_days: 7}\n",
            "unknown event field 'page_url'",
        ),
        (
            "purpose: email_marketing\npriority: 1\nconditions:\n  - {field: health_score, op: gt, value: high}\n",
            "'health_score' is a number",
        ),
        (
            "purpose: email_marketing\npriority: 1\nconditions:\n  - {field: health_tier, op: like, value: a}\n",
            "unknown operator 'like'",
        ),
    ],
)
def test_bad_definitions_are_rejected_with_the_reason(tmp_path, body, message):
    path = _write(tmp_path, "bad", f"name: bad\ndescription: x\n{body}")
    with pytest.raises(audiences.AudienceError, match=message):
        audiences.load_audience(path)


def test_file_name_must_match_the_audience_name(tmp_path):
    path = _write(tmp_path, "other", "name: bad\ndescription: x\npurpose: advertising\npriority: 1\n")
    with pytest.raises(audiences.AudienceError, match="must match the file name 'other'"):
        audiences.load_audience(path)


def test_values_are_bound_parameters_never_sql_text(tmp_path):
    evil = "x'); DROP TABLE marts.audience_traits; --"
    path = _write(
        tmp_path,
        "evil",
        "name: evil\ndescription: x\npurpose: email_marketing\npriority: 1\n"
        f'conditions:\n  - {{field: company_name, op: eq, value: "{evil}"}}\n'
        f'events:\n  - {{match: {{target_id: "{evil}"}}, within_days: 7}}\n',
    )
    compiled = audiences.compile_audience(audiences.load_audience(path))
    assert evil not in compiled.sql
    assert compiled.params == [evil, evil, 7, 1]
    con = _warehouse()
    assert audiences.members(con, audiences.load_audience(path)).empty
    assert con.execute("SELECT count(*) FROM marts.audience_traits").fetchall()[0][0] == len(TRAITS)


def test_shipped_audiences_load_and_qualify_the_constructed_customers():
    definitions = audiences.load_audiences()
    names = [d.name for d in definitions]
    assert set(names) >= {
        "at_risk_customers",
        "high_intent_pricing_visitors",
        "renewal_in_60_days",
        "detractors_to_call",
    }
    assert names[0] == "detractors_to_call"  # highest priority first


def test_non_consenting_person_is_never_in_any_audience_or_export(tmp_path):
    con = _warehouse()
    # A definition that asks for nobody in particular: consent and suppression still apply.
    everyone = audiences.Audience(
        name="everyone", description="x", purpose="email_marketing", priority=0, conditions=[]
    )
    ads = audiences.Audience(name="ads", description="x", purpose="advertising", priority=0)
    definitions = [*audiences.load_audiences(), everyone, ads]
    built = audiences.build_audiences(con, definitions)
    assert built["high_intent_pricing_visitors"].empty  # customers, not leads
    # Advertising consent is a different purpose: cus_no_consent only refused email marketing.
    for name, frame in built.items():
        if name == "high_intent_pricing_visitors":
            continue
        assert list(frame["customer_id"]) == (
            ["cus_no_consent", "cus_ok"] if name == "ads" else ["cus_ok"]
        ), name
    # The same people as leads who viewed pricing: the pricing audience takes only the consenting one.
    con.execute("UPDATE marts.audience_traits SET journey_stage = 'lead'")
    leads = audiences.build_audiences(
        con, [d for d in definitions if d.name == "high_intent_pricing_visitors"]
    )
    assert list(leads["high_intent_pricing_visitors"]["customer_id"]) == ["cus_ok"]
    for name in ("at_risk_customers", "everyone"):
        frame = audiences.members(con, next(d for d in definitions if d.name == name))
        for fmt in audiences.FORMATS:
            for hashed in (False, True):
                path = tmp_path / f"{name}_{hashed}.{fmt}"
                audiences.export_members(frame, path, fmt, hashed)
                exported = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
                assert "cus_no_consent" not in set(exported["customer_id"])
                text = path.read_bytes()
                assert b"no@example.com" not in text
                assert hashlib.sha256(b"no@example.com").hexdigest().encode() not in text


def test_members_get_e164_phones_read_in_their_country():
    con = _warehouse()
    frame = audiences.build_audiences(
        con, [audiences.Audience(name="ads", description="x", purpose="advertising", priority=0)]
    )["ads"]
    phones = dict(zip(frame["customer_id"], frame["phone_e164"], strict=True))
    assert phones == {"cus_ok": "+493070594291", "cus_no_consent": "+13129336651"}


def test_membership_history_answers_who_was_in_on_a_day():
    con = _warehouse(date(2026, 11, 1))
    definition = next(d for d in audiences.load_audiences() if d.name == "at_risk_customers")
    audiences.build_audiences(con, [definition])
    audiences.build_audiences(con, [definition])  # a rerun on the same day changes nothing
    assert con.execute("SELECT count(*) FROM audiences.audience_membership_history").fetchall()[0][0] == 1
    # A week later the customer recovered, so leaves the audience.
    con.execute("UPDATE marts.audience_traits SET as_of_date = DATE '2026-11-08', health_tier = 'healthy'")
    audiences.build_audiences(con, [definition])
    history = con.execute(
        "SELECT customer_id, entered_at, exited_at FROM audiences.audience_membership_history"
    ).fetchall()
    assert history == [("cus_ok", date(2026, 11, 1), date(2026, 11, 8))]
    assert audiences.members_on(con, "at_risk_customers", date(2026, 11, 5)) == ["cus_ok"]
    assert audiences.members_on(con, "at_risk_customers", date(2026, 11, 8)) == []
    assert audiences.members_on(con, "at_risk_customers", date(2026, 10, 31)) == []


def test_hashes_follow_the_ad_platform_rules():
    assert audiences.hash_email("  Test@Example.COM ") == hashlib.sha256(b"test@example.com").hexdigest()
    assert audiences.hash_phone("+13129336651") == hashlib.sha256(b"+13129336651").hexdigest()
    assert audiences.hash_email(None) is None and audiences.hash_phone(float("nan")) is None


def test_csv_export_neutralises_formulas_and_keeps_e164_phones_and_hashes(tmp_path):
    frame = pd.DataFrame(
        {
            "customer_id": ["cus_1", "cus_2"],
            "email": ['=HYPERLINK("http://x.example")@example.com', "-ana@example.com"],
            "phone_e164": ["+493070594291", None],
        }
    )
    plain, hashed, parquet = tmp_path / "plain.csv", tmp_path / "hashed.csv", tmp_path / "plain.parquet"

    audiences.export_members(frame, plain, "csv", hashed=False)
    audiences.export_members(frame, hashed, "csv", hashed=True)
    audiences.export_members(frame, parquet, "parquet", hashed=False)

    assert plain.read_text(encoding="utf-8").splitlines() == [
        "customer_id,email,phone_e164",
        'cus_1,"\'=HYPERLINK(""http://x.example"")@example.com",+493070594291',
        "cus_2,'-ana@example.com,",
    ]
    exported = pd.read_csv(hashed, dtype="string")
    assert list(exported["email_sha256"]) == [audiences.hash_email(e) for e in frame["email"]]
    assert exported.loc[0, "phone_sha256"] == hashlib.sha256(b"+493070594291").hexdigest()
    assert list(pd.read_parquet(parquet)["email"]) == list(frame["email"])  # not a spreadsheet format
