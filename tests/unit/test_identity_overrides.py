"""Steward decisions are validated, honoured by every run and visible in the id history."""

import pandas as pd
import pytest

import identity
from identity import OverridesError, load_overrides

COLUMNS = [
    "record_id",
    "source",
    "source_record_id",
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "company_name",
    "country",
]


def _records(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            (f"{src}:{rid}", src, rid, first, last, f"{first} {last}", email, phone, None, "US")
            for src, rid, first, last, email, phone in rows
        ],
        columns=COLUMNS,
    )
    return frame.astype("string")


# a and b share an email (a deterministic link); c is a stranger; d shares a blocked address with e.
RECORDS = _records(
    [
        ("crm_contacts", "1", "Maria", "Lopez", "maria.lopez@acme.io", "+14155550101"),
        ("web_leads", "L1", "Maria", "Lopez", "maria.lopez@acme.io", None),
        ("crm_contacts", "2", "Tom", "Baker", "tom.baker@globex.io", "+14155550199"),
        ("web_leads", "L2", "Ann", "Short", "info@shared.io", None),
        ("web_leads", "L3", "Bob", "Tall", "info@shared.io", None),
    ]
)


def _write(tmp_path, text: str):
    path = tmp_path / "overrides.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _customer(resolution, record_id: str) -> str:
    clusters = resolution.clusters.set_index("record_id")["customer_id"]
    return clusters[record_id]


def test_without_decisions_the_shared_email_merges_and_the_blocked_mailbox_does_not():
    resolution = identity.resolve(RECORDS, overrides=[])
    assert _customer(resolution, "crm_contacts:1") == _customer(resolution, "web_leads:L1")
    assert _customer(resolution, "web_leads:L2") != _customer(resolution, "web_leads:L3")
    assert resolution.stats["customers"] == 4


def test_cannot_link_keeps_two_records_apart_on_the_next_run(tmp_path):
    first = identity.resolve(RECORDS, overrides=[])
    overrides = load_overrides(
        _write(
            tmp_path,
            "cannot_link:\n  - records: ['crm_contacts:1', 'web_leads:L1']\n"
            "    by: ana\n    at: 2026-10-01\n    reason: mother and daughter share an address\n",
        )
    )
    second = identity.resolve(RECORDS, previous=first.clusters, overrides=overrides, run_id="run-2")
    assert _customer(second, "crm_contacts:1") != _customer(second, "web_leads:L1")
    assert _customer(second, "crm_contacts:1") == _customer(first, "crm_contacts:1")
    split = second.history[second.history["event"] == "split"]
    assert split[["customer_id", "related_customer_id", "records"]].values.tolist() == [
        [_customer(first, "web_leads:L1"), _customer(second, "web_leads:L1"), 1]
    ]
    assert (
        split["reason"].iloc[0]
        == "steward cannot_link by ana (2026-10-01): mother and daughter share an address"
    )
    assert split["run_id"].iloc[0] == "run-2"


def test_must_link_merges_records_the_model_keeps_apart_and_old_id_traces_to_the_survivor(tmp_path):
    first = identity.resolve(RECORDS, overrides=[])
    overrides = load_overrides(
        _write(
            tmp_path,
            "must_link:\n  - records: ['crm_contacts:2', 'web_leads:L2']\n"
            "    by: ana\n    at: 2026-10-02\n    reason: Tom changed his name\n",
        )
    )
    second = identity.resolve(RECORDS, previous=first.clusters, overrides=overrides, run_id="run-2")
    assert _customer(second, "crm_contacts:2") == _customer(second, "web_leads:L2")
    assert "steward_must_link" in set(second.links["rule"])
    retired = _customer(first, "web_leads:L2")
    survivor = _customer(second, "crm_contacts:2")
    assert retired != survivor
    current, events = identity.trace_customer(retired, second.history, set(second.clusters["customer_id"]))
    assert current == survivor
    assert [e["event"] for e in events] == ["merged"]


def test_split_separates_records_from_the_rest_of_their_customer(tmp_path):
    overrides = load_overrides(
        _write(
            tmp_path,
            "split:\n  - records: ['web_leads:L1']\n    by: ana\n    at: 2026-10-03\n    reason: typo\n",
        )
    )
    resolution = identity.resolve(RECORDS, overrides=overrides)
    assert _customer(resolution, "crm_contacts:1") != _customer(resolution, "web_leads:L1")


def test_rerun_without_changes_keeps_every_id_and_records_no_history():
    first = identity.resolve(RECORDS, overrides=[], run_id="run-1")
    second = identity.resolve(RECORDS, previous=first.clusters, overrides=[], run_id="run-2")
    assert first.clusters.set_index("record_id")["customer_id"].to_dict() == (
        second.clusters.set_index("record_id")["customer_id"].to_dict()
    )
    assert set(first.history["event"]) == {"created"} and len(first.history) == 4
    assert second.history.empty


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "cannot_link:\n  - records: ['a:1', 'b:2']\n    by: ana\n    at: 2026-10-01\n",
            "cannot_link[0] is missing reason",
        ),
        (
            "must_link:\n  - records: ['a:1']\n    by: ana\n    at: 2026-10-01\n    reason: x\n",
            "at least two",
        ),
        (
            "must_link:\n  - records: ['a:1', 'b:2']\n    by: ana\n    at: yesterday\n    reason: x\n",
            "must be a date",
        ),
        ("merge: []\n", "unknown section(s) merge"),
        (
            "must_link:\n  - {records: ['a:1', 'b:2'], by: ana, at: 2026-10-01, reason: x}\n"
            "cannot_link:\n  - {records: ['b:2', 'a:1'], by: bo, at: 2026-10-02, reason: y}\n",
            "contradicts a must_link",
        ),
    ],
)
def test_bad_overrides_are_refused_with_the_entry_named(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(OverridesError, match=None) as error:
        load_overrides(path)
    assert message in str(error.value)
    assert str(path) in str(error.value)


def test_an_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(OverridesError, match="CDP_IDENTITY_OVERRIDES"):
        load_overrides(tmp_path / "nope.yaml")


def test_the_packaged_overrides_file_is_valid_and_empty():
    assert load_overrides() == []
