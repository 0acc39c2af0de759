"""A record carrying only a name joins the one customer holding that name, and no namesake."""

import pandas as pd

import identity

COLUMNS = ["record_id", "source", "source_record_id", "full_name", "email", "phone", "company_name"]


def _records(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            (f"{src}:{rid}", src, rid, name, email, phone, company)
            for src, rid, name, email, phone, company in rows
        ],
        columns=COLUMNS,
    ).astype("string")
    frame["country"] = pd.Series("US", index=frame.index, dtype="string")
    return frame


def _customer_of(records: pd.DataFrame) -> dict[str, str]:
    return identity.resolve(records, overrides=[]).clusters.set_index("record_id")["customer_id"].to_dict()


def test_a_ticket_with_only_a_name_joins_the_customer_holding_it_in_either_name_order():
    records = _records(
        [
            ("crm_contacts", "1", "Sabine Mielcarek", "sabine.mielcarek@acme.io", "+1 415 555 0134", "Acme"),
            ("events", "e1", "Sabine Mielcarek", "sabine.mielcarek@acme.io", None, "Acme Inc"),
            ("tickets", "t1", "Sabine Mielcarek", None, None, None),
            ("tickets", "t2", "Mielcarek Sabine", None, None, None),
            ("crm_contacts", "2", "Tomas Berg", "tomas.berg@globex.io", None, "Globex"),
        ]
    )
    customer = _customer_of(records)
    assert customer["tickets:t1"] == customer["tickets:t2"] == customer["crm_contacts:1"]
    assert customer["crm_contacts:2"] != customer["crm_contacts:1"]


def test_a_name_only_ticket_stays_apart_when_two_people_in_different_companies_hold_the_name():
    records = _records(
        [
            ("crm_contacts", "1", "John Smith", "john.smith@acme.io", None, "Acme"),
            ("crm_contacts", "2", "John Smith", "jsmith@globex.io", None, "Globex"),
            ("tickets", "t1", "John Smith", None, None, None),
        ]
    )
    customer = _customer_of(records)
    assert len({customer["crm_contacts:1"], customer["crm_contacts:2"], customer["tickets:t1"]}) == 3


def test_a_name_only_record_sharing_a_number_with_other_records_is_not_attached_by_name():
    records = _records(
        [
            ("crm_contacts", "1", "Nicole Martinez", "nicole.martinez@acme.io", None, "Acme"),
            ("lead_forms", "h1", "Nicole Martinez", None, "+1 212 555 0187", None),
            ("consent", "c1", None, None, "+1 212 555 0187", None),
        ]
    )
    customer = _customer_of(records)
    assert customer["lead_forms:h1"] == customer["consent:c1"] != customer["crm_contacts:1"]


def test_the_attachment_is_listed_as_one_unique_name_link_from_the_name_holder():
    records = _records(
        [
            ("crm_contacts", "1", "Rachana Narula", "rachana.narula@narang.in", None, "Narang"),
            ("events", "e1", "Rachana Narula", "rachana.narula@narang.in", None, None),
            ("tickets", "t1", "Rachana Narula", None, None, None),
        ]
    )
    links = identity.resolve(records, overrides=[]).links
    by_name = links[links["rule"] == "unique_name"]
    assert by_name[["record_id_l", "record_id_r"]].values.tolist() == [["crm_contacts:1", "tickets:t1"]]


def test_a_plus_addressed_email_joins_the_plain_address():
    records = _records(
        [
            ("crm_contacts", "1", "Jo Baker", "jbaker@redwave.com", None, "Redwave"),
            ("email", "jbaker+events@redwave.com", None, "jbaker+events@redwave.com", None, None),
        ]
    )
    customer = _customer_of(records)
    assert customer["crm_contacts:1"] == customer["email:jbaker+events@redwave.com"]
