"""New records join the right existing customer without re-resolving the existing ones."""

import pytest

import identity
from identity._incremental import link_new_records
from tests.unit._identity_records import person_records

EXISTING = person_records(
    [
        ("crm_contacts:1", "Maria", "Lopez", "maria.lopez@acme.io", None),
        ("tickets:1", None, None, "maria.lopez@acme.io", None),
        ("crm_contacts:2", "Tom", "Baker", "tom.baker@globex.io", "+1 415 555 0199"),
        ("crm_contacts:3", "Ann", "Short", "ann.short@initech.io", None),
    ]
)
NEW = person_records(
    [
        ("lead_forms:9", "Tom", "Baker", "tb77@mailbox.org", "(415) 555-0199"),
        ("events:9", None, None, "tb77@mailbox.org", None),
        ("lead_forms:10", "Zed", "Yount", "zed@yount.io", None),
    ]
)


@pytest.fixture
def first():
    return identity.resolve(EXISTING, overrides=[])


def test_an_incremental_record_joins_the_right_customer_and_strangers_get_a_new_id(first):
    linked = link_new_records(NEW, first.normalised, first.clusters, overrides=[])
    updated, history = linked.clusters, linked.history
    customer = updated.set_index("record_id")["customer_id"]
    before = first.clusters.set_index("record_id")["customer_id"]
    assert customer["lead_forms:9"] == customer["events:9"] == before["crm_contacts:2"]
    assert customer["lead_forms:10"] not in set(before)
    assert (customer[before.index] == before).all()
    assert updated.set_index("record_id").loc["crm_contacts:2", "cluster_size"] == 3
    assert history[["event", "customer_id", "records"]].values.tolist() == [
        ["created", customer["lead_forms:10"], 1]
    ]
    # Tom's phone in national form joins him by rule; the links name it for the explanations.
    rules = linked.links.set_index(["record_id_l", "record_id_r"])["rule"]
    assert rules[("crm_contacts:2", "lead_forms:9")] == "same_phone"
    assert rules[("events:9", "lead_forms:9")] == "same_email"
    assert linked.stats == {
        "new_records": 3,
        "new_records_joining_existing_customers": 2,
        "new_customers": 1,
        "links_added": 2,
    }
    assert sorted(linked.normalised["record_id"]) == sorted(NEW["record_id"])


def test_a_cannot_link_to_an_existing_record_keeps_the_new_record_out(first):
    apart = identity.Override(
        "cannot_link", ("crm_contacts:2", "lead_forms:9"), "ana", "2026-10-01", "not him"
    )
    customer = link_new_records(NEW, first.normalised, first.clusters, overrides=[apart]).clusters.set_index(
        "record_id"
    )["customer_id"]
    assert customer["lead_forms:9"] == customer["events:9"] != customer["crm_contacts:2"]


def test_records_already_resolved_are_refused(first):
    with pytest.raises(ValueError, match="tickets:1"):
        link_new_records(EXISTING.iloc[[1]], first.normalised, first.clusters, overrides=[])


def test_a_new_caller_on_a_known_number_turns_it_into_a_shared_line_instead_of_joining_a_stranger(first):
    caller = person_records([("lead_forms:11", "Lena", "Cruz", None, "415-555-0199")])
    customer = link_new_records(caller, first.normalised, first.clusters, overrides=[]).clusters.set_index(
        "record_id"
    )["customer_id"]
    assert customer["lead_forms:11"] != customer["crm_contacts:2"]


def test_a_numbered_mailbox_namesake_does_not_join_the_existing_customer(first):
    namesake = person_records([("lead_forms:12", "Maria", "Lopez", "maria.lopez2@acme.io", None)])
    namesake["company_name"] = "Acme"
    existing = first.normalised.copy()
    existing.loc[existing["record_id"] == "crm_contacts:1", "company_norm"] = "acme"
    customer = link_new_records(namesake, existing, first.clusters, overrides=[]).clusters.set_index(
        "record_id"
    )["customer_id"]
    assert customer["lead_forms:12"] != customer["crm_contacts:1"]


def test_new_records_near_no_existing_record_get_new_customers(first):
    # Nothing existing shares a blocking key, phone or mailbox with these: the new-vs-existing
    # scoring comes back empty, which once crashed on adding the customer-node prefix.
    strangers = person_records(
        [
            ("lead_forms:20", "Zed", "Yount", "zed@yount.io", None),
            ("events:20", None, None, "zed@yount.io", None),
        ]
    )
    linked = link_new_records(strangers, first.normalised, first.clusters, overrides=[])
    customer = linked.clusters.set_index("record_id")["customer_id"]
    assert customer["lead_forms:20"] == customer["events:20"]
    assert customer["lead_forms:20"] not in set(first.clusters["customer_id"])
    assert linked.stats["new_customers"] == 1
    assert linked.stats["new_records_joining_existing_customers"] == 0
