"""Deterministic rules link outright, blocked values never join people, CRM duplicates are flagged."""

import pandas as pd

import identity

COLUMNS = [
    "record_id",
    "source",
    "source_record_id",
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
]


def _records(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            (f"{src}:{rid}", src, rid, first, last, None, email, phone, crm)
            for src, rid, first, last, email, phone, crm in rows
        ],
        columns=[*COLUMNS, "crm_contact_id"],
    )
    frame = frame.astype({c: "string" for c in COLUMNS})
    frame["crm_contact_id"] = frame["crm_contact_id"].astype("Int64")
    frame["country"] = pd.Series("US", index=frame.index, dtype="string")
    return frame


def _customer_of(resolution) -> dict[str, str]:
    return resolution.clusters.set_index("record_id")["customer_id"].to_dict()


def test_a_lead_carrying_a_crm_contact_id_joins_that_contact_whatever_its_details():
    records = _records(
        [
            ("crm_contacts", "7", "Priya", "Raman", "priya@acme.io", None, 7),
            ("lead_forms", "F1", "P.", "R.", "pr.private@mailbox.org", None, 7),
            ("crm_contacts", "8", "Priya", "Raman", "priya@globex.io", None, 8),
        ]
    )
    resolution = identity.resolve(records, overrides=[])
    customer = _customer_of(resolution)
    assert customer["crm_contacts:7"] == customer["lead_forms:F1"] != customer["crm_contacts:8"]
    rules = resolution.links.set_index(["record_id_l", "record_id_r"])["rule"].to_dict()
    assert rules[("crm_contacts:7", "lead_forms:F1")] == "same_crm_contact_id"


def test_a_blocked_phone_and_a_shared_mailbox_never_merge_two_people():
    records = _records(
        [
            ("lead_forms", "A", "Chen", "Wei", "sales@shop.io", "+1 555 555 5555", None),
            ("lead_forms", "B", "Olga", "Berg", "sales@shop.io", "+1 555 555 5555", None),
            ("tickets", "C", "Sam", "Ode", "test@test.com", "0000000000", None),
            ("tickets", "D", "Lee", "Park", "test@test.com", "0000000000", None),
        ]
    )
    resolution = identity.resolve(records, overrides=[])
    assert resolution.links.empty
    assert resolution.stats["customers"] == 4


def test_two_crm_contacts_of_one_person_stay_merged_and_are_flagged_for_the_crm_owner():
    records = _records(
        [
            ("crm_contacts", "10", "Jon", "Hale", "jon.hale@acme.io", None, 10),
            ("crm_contacts", "11", "Jonathan", "Hale", "jon.hale@acme.io", None, 11),
            ("crm_contacts", "12", "Ada", "Moss", "ada.moss@acme.io", None, 12),
        ]
    )
    resolution = identity.resolve(records, overrides=[])
    flagged = identity.crm_duplicates(resolution.clusters)
    customer = _customer_of(resolution)
    assert flagged.values.tolist() == [
        [customer["crm_contacts:10"], "10", 2],
        [customer["crm_contacts:10"], "11", 2],
    ]


def test_explanations_name_the_rule_or_the_comparison_levels_that_joined_each_record():
    records = _records(
        [
            ("crm_contacts", "20", "Nora", "Quist", "nora.quist@acme.io", "+1 415 555 0142", 20),
            ("lead_forms", "N1", "Nora", "Quist", "nq1988@mailbox.org", "(415) 555-0142", None),
            ("tickets", "N2", "Nora", "Quist", "nora.quist@acme.io", None, None),
            ("tickets", "Z9", "Zed", "Yount", "zed@yount.io", None, None),
        ]
    )
    resolution = identity.resolve(records, overrides=[])
    explained = identity.match_explanations(resolution.clusters, resolution.links).set_index("record_id")
    assert explained.loc["tickets:N2", "rule"] == "same_email"
    assert explained.loc["tickets:N2", "linked_to"] == "crm_contacts:20"
    lead = explained.loc["lead_forms:N1"]
    # The same number in national and international form: the phone rule, with the model's view beside it.
    assert lead["rule"] == "same_phone"
    assert "Exact match on phone_tail" in lead["evidence"]
    assert "(Exact match on first_name_canonical) AND (Exact match on last_name_norm)" in lead["evidence"]
    assert explained.loc["tickets:Z9", "rule"] == "alone" and pd.isna(
        explained.loc["tickets:Z9", "linked_to"]
    )
    assert explained["customer_id"].nunique() == 2


def test_a_phone_joins_one_person_across_formats_but_never_the_callers_of_a_switchboard():
    records = _records(
        [
            # One person's mobile, written in international and national form.
            ("crm_contacts", "30", "Ines", "Valle", "ines.valle@acme.io", "+1 415 555 0177", 30),
            ("lead_forms", "H1", "Valle", None, None, "(415) 555-0177", None),
            # Reception's number, given by two colleagues and by a caller who left no name.
            ("crm_contacts", "31", "Omar", "Baird", "omar.baird@initech.io", "+1 212 555 0100", 31),
            ("crm_contacts", "32", "Lena", "Cruz", "lena.cruz@initech.io", "(212) 555-0100", 32),
            ("lead_forms", "H2", None, None, None, "212-555-0100", None),
        ]
    )
    resolution = identity.resolve(records, overrides=[])
    customer = _customer_of(resolution)
    assert customer["lead_forms:H1"] == customer["crm_contacts:30"]
    rules = resolution.links.set_index(["record_id_l", "record_id_r"])["rule"]
    assert rules[("crm_contacts:30", "lead_forms:H1")] == "same_phone"
    assert len({customer["crm_contacts:31"], customer["crm_contacts:32"], customer["lead_forms:H2"]}) == 3


def test_numbered_mailboxes_at_one_domain_stay_two_namesakes_even_when_the_model_would_join_them():
    records = _records(
        [
            ("crm_contacts", "40", "Feng", "Li", "fli@huangshi.cn", None, 40),
            ("crm_contacts", "41", "Feng", "Li", "fli2@huangshi.cn", None, 41),
            ("events", "E1", "Feng", "Li", "fli@huangshi.cn", None, None),
            ("events", "E2", "Feng", "Li", "fli2@huangshi.cn", None, None),
        ]
    )
    records["company_name"] = "Huangshi Media Co., Ltd."
    resolution = identity.resolve(records, overrides=[])
    customer = _customer_of(resolution)
    assert customer["events:E1"] == customer["crm_contacts:40"]
    assert customer["events:E2"] == customer["crm_contacts:41"]
    assert customer["crm_contacts:40"] != customer["crm_contacts:41"]
    assert resolution.stats["links_refused_by_overrides_and_guards"] > 0


def test_an_over_large_customer_splits_at_its_weakest_model_links():
    records = _records(
        [
            ("crm_contacts", "50", "Thomas", "Baker", "tom.baker@globex.io", None, None),
            ("lead_forms", "51", "Thomas", "Baker", "tbaker@mailbox.org", None, None),
            ("events", "52", "Thomaz", "Baker", "t.b@post.io", None, None),
        ]
    )
    records["company_name"] = "Globex"
    unlimited = _customer_of(identity.resolve(records, overrides=[], max_cluster_size=None))
    assert len(set(unlimited.values())) == 1
    capped = identity.resolve(records, overrides=[], max_cluster_size=2)
    customer = _customer_of(capped)
    # The exact-name pair (0.968) is stronger than the typo'd name's links (0.967): the typo goes.
    assert customer["crm_contacts:50"] == customer["lead_forms:51"] != customer["events:52"]
    assert capped.clusters["cluster_size"].max() == 2
