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
    updated, history = link_new_records(NEW, EXISTING, first.clusters, overrides=[])
    customer = updated.set_index("record_id")["customer_id"]
    before = first.clusters.set_index("record_id")["customer_id"]
    assert customer["lead_forms:9"] == customer["events:9"] == before["crm_contacts:2"]
    assert customer["lead_forms:10"] not in set(before)
    assert (customer[before.index] == before).all()
    assert updated.set_index("record_id").loc["crm_contacts:2", "cluster_size"] == 3
    assert history[["event", "customer_id", "records"]].values.tolist() == [
        ["created", customer["lead_forms:10"], 1]
    ]


def test_a_cannot_link_to_an_existing_record_keeps_the_new_record_out(first):
    apart = identity.Override(
        "cannot_link", ("crm_contacts:2", "lead_forms:9"), "ana", "2026-10-01", "not him"
    )
    updated, _ = link_new_records(NEW, EXISTING, first.clusters, overrides=[apart])
    customer = updated.set_index("record_id")["customer_id"]
    assert customer["lead_forms:9"] == customer["events:9"] != customer["crm_contacts:2"]


def test_records_already_resolved_are_refused(first):
    with pytest.raises(ValueError, match="tickets:1"):
        link_new_records(EXISTING.iloc[[1]], EXISTING, first.clusters, overrides=[])
