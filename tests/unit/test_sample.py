"""The sample-data generator: determinism, exact ground truth, realistic variations, clean timestamps."""

import csv
import hashlib
import json
import re
import sqlite3
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from connectors.sample import SAMPLE_PHASES, Manifest, generate
from connectors.sample._nicknames import NICKNAMES

AS_OF = date(2026, 6, 30)
WINDOW_END = datetime(2026, 6, 30)
WINDOW_START = WINDOW_END - timedelta(days=365)
PLACEHOLDER_EMAILS = {"noemail@noemail.com", "na@na.com", "unknown@unknown.com"}
CJK = re.compile(r"[\u3400-\u9fff]")
CRM_TABLES = ("users", "accounts", "contacts", "opportunities", "activities", "contact_history")
LEAD_KEYS = {
    "web_form": ("submission_id", "submitted_at"),
    "video_ad_form": ("lead_id", "created_time"),
    "hotline": ("call_id", "call_started_at"),
    "tradeshow_badges": ("badge_id", "scanned_at"),
}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample200")
    generate(out, customers=200, seed=7, as_of=AS_OF)
    return out


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample500")
    generate(out, customers=500, seed=11, as_of=AS_OF)
    return out


def read_csv(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(physical line number, row) for each data row."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return [(reader.line_num, row) for row in reader]


def read_events(out: Path) -> dict[str, list[str]]:
    return {
        path.relative_to(out).as_posix(): path.read_text(encoding="utf-8").splitlines()
        for path in sorted((out / "events").glob("*.jsonl"))
    }


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def malformed_lines(out: Path) -> set[tuple[str, int]]:
    return {(m["file"], m["line"]) for m in manifest(out)["injected_malformed"]}


def valid_events(out: Path) -> list[dict]:
    broken = malformed_lines(out)
    return [
        json.loads(line)
        for name, lines in read_events(out).items()
        for number, line in enumerate(lines, start=1)
        if (name, number) not in broken
    ]


def truth(out: Path) -> dict[str, dict[str, str]]:
    owners: dict[str, dict[str, str]] = defaultdict(dict)
    for _, row in read_csv(out / "ground_truth.csv"):
        owners[row["source"]][row["source_record_id"]] = row["person_id"]
    return owners


def crm_rows(out: Path, table: str) -> list[dict]:
    with sqlite3.connect(out / "crm.sqlite") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1")]


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)


def mailbox(address: str) -> str:
    local, _, domain = address.strip().lower().partition("@")
    local = local.split("+", 1)[0]
    if domain == "gmail.com":
        local = local.replace(".", "")
    return f"{local}@{domain}"


def named_records(out: Path) -> list[tuple[str, str, str]]:
    """(person_id, first_name, last_name) of every record that splits the name."""
    owners = truth(out)
    records = [
        (owners["crm_contacts"][str(c["contact_id"])], c["first_name"] or "", c["last_name"] or "")
        for c in crm_rows(out, "contacts")
    ]
    for channel, (key, _) in LEAD_KEYS.items():
        for _, row in read_csv(out / "leads" / f"{channel}.csv"):
            if "first_name" in row:
                records.append(
                    (owners["lead_forms"][f"{channel}:{row[key]}"], row["first_name"], row["last_name"])
                )
    return records


def test_same_inputs_give_identical_files(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", customers=200, seed=3, as_of=AS_OF)
    second = generate(tmp_path / "b", customers=200, seed=3, as_of=AS_OF)

    def digests(root: Path) -> dict[str, str]:
        return {
            p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix != ".sqlite"
        }

    assert first == second
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    assert len(digests(tmp_path / "a")) >= 12
    for table in CRM_TABLES:
        assert crm_rows(tmp_path / "a", table) == crm_rows(tmp_path / "b", table)

    generate(tmp_path / "c", customers=200, seed=4, as_of=AS_OF)
    assert digests(tmp_path / "c")["ground_truth.csv"] != digests(tmp_path / "a")["ground_truth.csv"]


def test_regenerating_replaces_the_previous_sample(tmp_path: Path) -> None:
    generate(tmp_path, customers=60, seed=1, as_of=date(2025, 3, 1))
    result = generate(tmp_path, customers=60, seed=1, as_of=AS_OF)

    event_files = {p.relative_to(tmp_path).as_posix() for p in (tmp_path / "events").glob("*.jsonl")}
    assert event_files == {name for name in result.generated_files if name.startswith("events/")}
    assert all(name >= "events/events-2025-06" for name in event_files)
    assert len(crm_rows(tmp_path, "users")) == result.generated_files["crm.sqlite:users"]


def test_manifest_matches_the_files(small: Path) -> None:
    written = manifest(small)
    files = written["generated_files"]

    assert written["seed"] == 7 and written["customers"] == 200 and written["as_of"] == "2026-06-30"
    for table in CRM_TABLES:
        assert files[f"crm.sqlite:{table}"] == len(crm_rows(small, table)) > 0
    for name, lines in read_events(small).items():
        assert files[name] == len(lines)
    csv_files = [name for name in files if name.endswith(".csv")]
    assert sorted(csv_files) == sorted(
        ["email/esp_export.csv", "ground_truth.csv", "consent/consent_log.csv", "service/tickets.csv"]
        + ["service/nps_responses.csv"]
        + [f"leads/{channel}.csv" for channel in LEAD_KEYS]
    )
    for name in csv_files:
        assert files[name] == len(read_csv(small / name)) > 0, name
    assert 30 <= files["crm.sqlite:accounts"] <= 50
    assert files["crm.sqlite:contacts"] > files["crm.sqlite:accounts"]
    assert sum(n for name, n in files.items() if name.startswith("events/")) > 1000


def test_api_returns_the_written_manifest(tmp_path: Path) -> None:
    phases: list[str] = []
    result = generate(
        tmp_path, customers=40, seed=5, as_of=AS_OF, malformed_per_kind=0, progress=phases.append
    )

    assert phases == list(SAMPLE_PHASES), "every phase is reported once, in order"
    assert isinstance(result, Manifest)
    assert json.loads(result.to_json()) == manifest(tmp_path)
    assert result.injected_malformed == ()
    with pytest.raises(ValueError, match="at least 10"):
        generate(tmp_path, customers=5)


def test_injected_rows_are_malformed_where_the_manifest_says(small: Path) -> None:
    injected = manifest(small)["injected_malformed"]
    kinds = defaultdict(int)
    for item in injected:
        path, line = small / item["file"], item["line"]
        text = path.read_text(encoding="utf-8").splitlines()[line - 1]
        if item["file"].startswith("events/"):
            kinds["events"] += 1
            try:
                message = json.loads(text)
            except json.JSONDecodeError:
                assert item["reason"].startswith("invalid JSON")
                continue
            assert "timestamp" not in message or message["type"] not in {"identify", "track", "page"}
            continue
        row = next(r for number, r in read_csv(path) if number == line)
        if item["file"] == "service/tickets.csv":
            kinds["tickets"] += 1
            with pytest.raises(ValueError):
                parse_ts(row["created_at"])
        else:
            kinds["nps"] += 1
            assert row["score"] in {"11", "ten"}
    assert kinds == {"events": 5, "tickets": 5, "nps": 5}
    reasons = {item["reason"].split(":")[0] for item in injected if item["file"].startswith("events/")}
    assert reasons == {"invalid JSON", "missing timestamp", "wrong type"}


def test_ground_truth_covers_exactly_the_person_bearing_records(small: Path) -> None:
    owners = truth(small)
    broken = malformed_lines(small)

    assert set(owners) == {
        "crm_contacts",
        "events",
        "events_anonymous",
        "email",
        "lead_forms",
        "tickets",
        "nps",
        "consent",
    }
    assert set(owners["crm_contacts"]) == {str(c["contact_id"]) for c in crm_rows(small, "contacts")}

    identifies = [m for m in valid_events(small) if m["type"] == "identify"]
    assert set(owners["events"]) == {m["messageId"] for m in identifies}
    assert set(owners["events_anonymous"]) == {m["anonymousId"] for m in identifies}
    for message in identifies:
        assert owners["events_anonymous"][message["anonymousId"]] == owners["events"][message["messageId"]]

    assert set(owners["email"]) == {row["email"] for _, row in read_csv(small / "email/esp_export.csv")}
    leads = {
        f"{channel}:{row[key]}"
        for channel, (key, _) in LEAD_KEYS.items()
        for _, row in read_csv(small / "leads" / f"{channel}.csv")
    }
    assert set(owners["lead_forms"]) == leads
    for name, key, source in (
        ("service/tickets.csv", "ticket_id", "tickets"),
        ("service/nps_responses.csv", "response_id", "nps"),
        ("consent/consent_log.csv", "consent_id", "consent"),
    ):
        rows = read_csv(small / name)
        assert set(owners[source]) == {row[key] for line, row in rows if (name, line) not in broken}
        assert not {row[key] for line, row in rows if (name, line) in broken} & set(owners[source])
    assert all(re.fullmatch(r"P\d{6}", p) for records in owners.values() for p in records.values())


def test_ground_truth_agrees_with_the_contact_details(small: Path) -> None:
    """One mailbox or phone number never belongs to two people; the same person reappears across sources."""
    owners = truth(small)
    by_mailbox: dict[str, set[str]] = defaultdict(set)
    by_phone: dict[str, set[str]] = defaultdict(set)

    def note(email: str | None, phone: str | None, person: str) -> None:
        if email and email.lower() not in PLACEHOLDER_EMAILS:
            by_mailbox[mailbox(email)].add(person)
        if phone and phone.startswith("+"):
            by_phone[re.sub(r"\D", "", phone)].add(person)

    for contact in crm_rows(small, "contacts"):
        note(contact["email"], contact["phone"], owners["crm_contacts"][str(contact["contact_id"])])
    for message in valid_events(small):
        if message["type"] == "identify":
            note(
                message["traits"].get("email"),
                message["traits"].get("phone"),
                owners["events"][message["messageId"]],
            )
    for _, row in read_csv(small / "email/esp_export.csv"):
        note(row["email"], None, owners["email"][row["email"]])
    for _, row in read_csv(small / "leads/video_ad_form.csv"):
        note(row["email"], row["phone_number"], owners["lead_forms"][f"video_ad_form:{row['lead_id']}"])
    for _, row in read_csv(small / "leads/web_form.csv"):
        note(row["email"], row["phone"], owners["lead_forms"][f"web_form:{row['submission_id']}"])
    for _, row in read_csv(small / "service/tickets.csv"):
        if row["ticket_id"] in owners["tickets"]:
            note(row["requester_email"], row["requester_phone"], owners["tickets"][row["ticket_id"]])
    for _, row in read_csv(small / "consent/consent_log.csv"):
        note(row["subject_email"], row["subject_phone"], owners["consent"][row["consent_id"]])

    assert {k: v for k, v in by_mailbox.items() if len(v) > 1} == {}
    assert {k: v for k, v in by_phone.items() if len(v) > 1} == {}
    people_in_several_sources = defaultdict(set)
    for source, records in owners.items():
        for person in records.values():
            people_in_several_sources[person].add(source)
    assert sum(len(s) >= 3 for s in people_in_several_sources.values()) > 50
    customers = manifest(small)["customers"]
    assert len(people_in_several_sources) < customers, "anonymous-only visitors bear no records"


def test_variations_occur(medium: Path) -> None:
    contacts = crm_rows(medium, "contacts")
    owners = truth(medium)
    emails = [c["email"] or "" for c in contacts] + [
        r["email"] for _, r in read_csv(medium / "leads/web_form.csv")
    ]
    phones = [c["phone"] or "" for c in contacts]
    names = named_records(medium)

    assert any(re.fullmatch(r"[^@+]+\+[a-z]+@[\w.-]+", e) for e in emails), "plus-addressing"
    assert any(e != e.lower() for e in emails), "email case"
    assert any(re.fullmatch(r"\+\d{8,15}", p) for p in phones), "E.164"
    assert any(re.fullmatch(r"\(\d{3}\) \d{3}-\d{4}", p) for p in phones), "US national format"
    assert any(re.fullmatch(r"\d{3}-\d{3}-\d{4}", p) for p in phones), "dashed format"
    assert any(re.fullmatch(r"0\d[\d ]+", p) for p in phones), "national format with trunk prefix"
    assert any(CJK.search(first + last) for _, first, last in names), "Chinese characters"
    video_names = [r["full_name"] for _, r in read_csv(medium / "leads/video_ad_form.csv")]
    assert any(
        CJK.search(n)
        for n in video_names + [r["caller_name"] for _, r in read_csv(medium / "leads/hotline.csv")]
    )

    spellings: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for person, first, last in names:
        if first and last:
            spellings[person].add((first, last))
    transposed = [
        p for p, s in spellings.items() if any((last, first) in s for first, last in s if first != last)
    ]
    assert transposed, "transposed first/last names"
    firsts = {p: {first for first, _ in s} for p, s in spellings.items()}
    nicknamed = [
        p for p, names_used in firsts.items() for n in names_used if set(NICKNAMES.get(n, ())) & names_used
    ]
    assert nicknamed, "nicknames"

    per_person = defaultdict(list)
    for contact_id, person in owners["crm_contacts"].items():
        per_person[person].append(contact_id)
    duplicated = [ids for ids in per_person.values() if len(ids) > 1]
    assert 0.01 <= len(duplicated) / len(contacts) <= 0.06, "about 3 % CRM-internal duplicates"
    by_id = {str(c["contact_id"]): c for c in contacts}
    for ids in duplicated:
        a, b = (by_id[i] for i in ids[:2])
        keys = ("first_name", "last_name", "email", "phone")
        assert any(a[k] != b[k] for k in keys), "a CRM duplicate differs somewhere"

    clean = sum(1 for _, first, last in names if first and last and not CJK.search(first + last))
    assert clean / len(names) > 0.8, "most records are clean"


def test_look_alike_people_are_different_people(medium: Path) -> None:
    owners = truth(medium)
    by_name: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for contact in crm_rows(medium, "contacts"):
        if contact["first_name"] and contact["last_name"]:
            by_name[contact["first_name"], contact["last_name"]].append(contact)
    look_alikes = []
    for contacts in by_name.values():
        people = {owners["crm_contacts"][str(c["contact_id"])]: c for c in contacts}
        if len(people) > 1:
            look_alikes.append(list(people.values()))
    assert len(look_alikes) >= 3
    for a, b, *_ in look_alikes:
        assert a["email"] != b["email"]
        assert a["phone"] is None or a["phone"] != b["phone"]
    assert any(a["account_id"] != b["account_id"] for a, b, *_ in look_alikes)


def test_timestamps_fall_in_the_year_before_as_of(small: Path) -> None:
    def check(value: str, where: str) -> None:
        moment = parse_ts(value)
        assert WINDOW_START <= moment < WINDOW_END, (where, value)

    for table in CRM_TABLES:
        for row in crm_rows(small, table):
            for column, value in row.items():
                if column.endswith("_at"):
                    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", value), (table, column, value)
                    check(value, f"{table}.{column}")
    events = valid_events(small)
    for message in events:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", message["timestamp"])
        check(message["timestamp"], "events")
    broken = malformed_lines(small)
    columns = {
        "email/esp_export.csv": ("timestamp",),
        "service/tickets.csv": ("created_at", "solved_at"),
        "service/nps_responses.csv": ("responded_at",),
        "consent/consent_log.csv": ("recorded_at",),
        **{f"leads/{channel}.csv": (column,) for channel, (_, column) in LEAD_KEYS.items()},
    }
    for name, names in columns.items():
        for line, row in read_csv(small / name):
            if (name, line) not in broken:
                for column in names:
                    if row[column]:
                        check(row[column], name)
    for line, ticket in read_csv(small / "service/tickets.csv"):
        if ticket["solved_at"] and ("service/tickets.csv", line) not in broken:
            assert parse_ts(ticket["solved_at"]) >= parse_ts(ticket["created_at"])


def test_events_follow_the_segment_spec(small: Path) -> None:
    events = sorted(valid_events(small), key=lambda m: m["timestamp"])
    first_seen: dict[str, dict] = {}
    user_of: dict[str, str] = {}
    owners = truth(small)
    for message in events:
        assert message["type"] in {"identify", "track", "page"}
        assert message["anonymousId"] and message["messageId"]
        first_seen.setdefault(message["anonymousId"], message)
        if message["type"] == "track":
            assert message["event"] in {
                "Signed Up",
                "Demo Requested",
                "Content Downloaded",
                "Webinar Registered",
                "Feature Used",
                "Trial Started",
            }
        elif message["type"] == "page":
            assert message["name"] and set(message["properties"]) == {"url", "path", "title", "referrer"}
        else:
            assert message["traits"]["email"]
            if message["userId"]:
                person = owners["events"][message["messageId"]]
                assert user_of.setdefault(message["userId"], person) == person
    assert all(m["type"] == "page" and m["userId"] is None for m in first_seen.values()), "anonymous first"
    assert any(m.get("context", {}).get("campaign") for m in events)
    assert any(m["userId"] and m["type"] == "identify" for m in events)
    assert any(m["userId"] is None and m["type"] == "identify" for m in events)
    assert len(first_seen) > len(owners["events_anonymous"]), "some visitors never identify"


def test_unsubscribes_line_up_with_withdrawn_consent(medium: Path) -> None:
    changes: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    consent = read_csv(medium / "consent/consent_log.csv")
    for _, row in consent:
        if row["purpose"] == "email_marketing" and row["subject_email"]:
            changes[row["subject_email"].lower()].append((parse_ts(row["recorded_at"]), row["status"]))

    def granted(address: str, moment: datetime) -> bool:
        status = "withdrawn"
        for changed, value in sorted(changes[address.lower()]):
            if changed > moment:
                break
            status = value
        return status == "granted"

    unsubscribes = 0
    for _, row in read_csv(medium / "email/esp_export.csv"):
        moment = parse_ts(row["timestamp"])
        if row["event"] == "sent":
            assert granted(row["email"], moment), row
        if row["event"] == "unsubscribe":
            unsubscribes += 1
            withdrawn = [
                at
                for at, status in changes[row["email"].lower()]
                if status == "withdrawn" and timedelta(0) <= at - moment <= timedelta(seconds=120)
            ]
            assert withdrawn, row
        assert bool(row["url"]) == (row["event"] == "click")
        assert bool(row["bounce_type"]) == (row["event"] == "bounce")
    assert unsubscribes >= 5

    people = truth(medium)["consent"]
    granted_people = {people[r["consent_id"]] for _, r in consent if r["purpose"] == "email_marketing"}
    withdrawn_people = {
        people[r["consent_id"]]
        for _, r in consent
        if r["purpose"] == "email_marketing" and r["status"] == "withdrawn"
    }
    assert 0.04 <= len(withdrawn_people) / len(granted_people) <= 0.2
    by_purpose = defaultdict(set)
    for _, row in consent:
        by_purpose[row["purpose"]].add(people[row["consent_id"]])
    assert len(by_purpose["advertising"]) < len(by_purpose["analytics"]) < len(by_purpose["email_marketing"])


def test_business_signals_for_health_scores(medium: Path) -> None:
    opportunities = crm_rows(medium, "opportunities")
    won = [o for o in opportunities if o["stage"] == "closed_won"]
    assert won and all(o["contract_renewal_date"] for o in won)
    assert all(o["contract_renewal_date"] is None for o in opportunities if o["stage"] != "closed_won")
    renewals = [date.fromisoformat(o["contract_renewal_date"]) for o in won]
    assert any(r > AS_OF + timedelta(days=180) for r in renewals) and any(r <= AS_OF for r in renewals)
    assert {o["stage"] for o in opportunities} >= {"closed_won", "closed_lost", "proposal"}

    week_counts = defaultdict(int)
    for activity in crm_rows(medium, "activities"):
        week_counts[activity["account_id"]] += 1
    customer_accounts = {o["account_id"] for o in won}
    per_week = [week_counts[a] / 52 for a in customer_accounts]
    assert min(per_week) < 1 < max(per_week), "cadence varies; some customers get < 1 touch a week"

    tickets = [row for _, row in read_csv(medium / "service/tickets.csv")]
    assert {t["status"] for t in tickets} >= {"open", "pending", "solved", "closed"}
    assert {"true", "false"} == {t["is_escalated"] for t in tickets}
    csat = {t["csat_score"] for t in tickets}
    assert "" in csat and "5" in csat and csat & {"1", "2"}

    owners = truth(medium)
    account_of = {
        owners["crm_contacts"][str(c["contact_id"])]: c["account_id"]
        for c in crm_rows(medium, "contacts")
        if c["account_id"]
    }
    painful = {
        account_of.get(owners["tickets"][t["ticket_id"]])
        for t in tickets
        if t["ticket_id"] in owners["tickets"] and t["is_escalated"] == "true"
    }
    scores = [
        (account_of.get(owners["nps"][r["response_id"]]), int(r["score"]))
        for _, r in read_csv(medium / "service/nps_responses.csv")
        if r["response_id"] in owners["nps"]
    ]
    bands = {"promoter": 0, "passive": 0, "detractor": 0}
    for _, score in scores:
        bands["promoter" if score >= 9 else "passive" if score >= 7 else "detractor"] += 1
    assert all(n >= 5 for n in bands.values()), bands
    in_pain = [s for account, s in scores if account in painful]
    at_ease = [s for account, s in scores if account is not None and account not in painful]
    assert sum(in_pain) / len(in_pain) < sum(at_ease) / len(at_ease) - 0.5, "NPS follows ticket pain"


def test_contact_history_walks_the_lifecycle_to_the_current_stage(medium: Path) -> None:
    stages = ("lead", "mql", "sql", "opportunity", "customer", "churned")
    contacts = {c["contact_id"]: c for c in crm_rows(medium, "contacts")}
    history = defaultdict(list)
    for row in crm_rows(medium, "contact_history"):
        history[(row["contact_id"], row["field"])].append(row)
    for contact_id, contact in contacts.items():
        changes = sorted(history[(contact_id, "lifecycle_stage")], key=lambda r: r["history_id"])
        assert changes, contact_id
        assert changes[0]["old_value"] is None and changes[0]["changed_at"] == contact["created_at"]
        assert changes[-1]["new_value"] == contact["lifecycle_stage"], contact_id
        for before, after in zip(changes, changes[1:], strict=False):
            assert after["old_value"] == before["new_value"]
            assert stages.index(after["new_value"]) > stages.index(before["new_value"])
            assert after["changed_at"] >= before["changed_at"]
    # Won deals date the customer stage: the primary contact became a customer the day the deal closed.
    won = [
        o
        for o in crm_rows(medium, "opportunities")
        if o["stage"] == "closed_won" and "Renewal" not in o["name"]
    ]
    for deal in won:
        entered = [
            r["changed_at"]
            for r in history[(deal["primary_contact_id"], "lifecycle_stage")]
            if r["new_value"] == "customer"
        ]
        assert entered == [deal["stage_entered_at"]], deal["opportunity_id"]
    walked = {
        tuple(r["new_value"] for r in rows)
        for (_, field), rows in history.items()
        if field == "lifecycle_stage"
    }
    assert ("lead", "mql", "sql", "opportunity", "customer", "churned") in walked
    titles = [rows for (_, field), rows in history.items() if field == "title"]
    assert titles and all(r[0]["new_value"] == contacts[r[0]["contact_id"]]["title"] for r in titles)
