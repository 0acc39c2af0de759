"""Normalisation: the matching columns a record yields, for the variations sources really produce."""

import pandas as pd
import pytest

from identity import normalise_records
from identity._normalise import (
    normalise_company,
    normalise_email,
    normalise_name,
    normalise_phone,
    phone_tail,
    split_full_name,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Jane.Doe@Acme.COM ", "jane.doe@acme.com"),
        ("jane.doe+newsletter@acme.com", "jane.doe@acme.com"),
        ("J.A.N.E.doe@gmail.com", "janedoe@gmail.com"),
        ("jane.doe@acme", None),
        ("info@acme.com", None),
        ("test@test.com", None),
        ("not-an-email", None),
    ],
)
def test_email(raw, expected):
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(415) 555-0134", "US", "+14155550134"),
        ("(650) 253-0000", "US", "+16502530000"),
        ("650-253-0000", None, "+16502530000"),
        ("+1 650 253 0000", "DE", "+16502530000"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("+44 20 7946 0018", None, "+442079460018"),
        ("000", "US", None),
    ],
)
def test_phone(raw, region, expected):
    assert normalise_phone(raw, region) == expected


def test_phone_tail_agrees_across_formats_and_rejects_placeholders():
    assert phone_tail("+44 20 7946 0018") == phone_tail("020 7946 0018") == "79460018"
    assert phone_tail("0000 0000") is None
    assert phone_tail("12345") is None


def test_names_transliterate_and_chinese_family_name_comes_first():
    assert split_full_name("张伟") == ("伟", "张")
    assert split_full_name("欧阳娜娜") == ("娜娜", "欧阳")
    assert split_full_name("Maria del Carmen Lopez") == ("Maria", "Lopez")
    assert normalise_name("伟") == "wei"
    assert normalise_name("Zhang") == "zhang"
    assert normalise_name("  Zoë  ") == "zoe"
    assert normalise_name("O'Brien") == "o brien"
    assert normalise_name("Unknown") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ACME Limited", "acme"),
        ("Acme Ltd.", "acme"),
        ("Müller GmbH & Co. KG", "muller"),
        ("The Hut Group plc", "hut"),
    ],
)
def test_company(raw, expected):
    assert normalise_company(raw) == expected


def test_normalise_records_fills_names_from_full_name_and_maps_nicknames():
    records = pd.DataFrame(
        {
            "record_id": ["tickets:1", "crm_contacts:2"],
            "source": ["tickets", "crm_contacts"],
            "first_name": [None, "Bob"],
            "last_name": [None, "Smith"],
            "full_name": ["张伟", None],
            "email": [None, "Bob.Smith+x@Acme.com"],
            "phone": ["+86 138 0013 8000", "650-253-0000"],
            "company_name": [None, "Acme Ltd"],
            "country": [None, "US"],
            "crm_contact_id": [None, 2],
        }
    )
    out = normalise_records(records).set_index("record_id")
    assert out.loc["tickets:1", "first_name_norm"] == "wei"
    assert out.loc["tickets:1", "last_name_norm"] == "zhang"
    assert out.loc["tickets:1", "phone_e164"] == "+8613800138000"
    assert out.loc["crm_contacts:2", "first_name_canonical"] == "robert"
    assert out.loc["crm_contacts:2", "email_norm"] == "bob.smith@acme.com"
    assert out.loc["crm_contacts:2", "email_domain"] == "acme.com"
    assert out.loc["crm_contacts:2", "company_norm"] == "acme"
    assert out.loc["crm_contacts:2", "phone_tail"] == "02530000"
    assert out.loc["crm_contacts:2", "crm_contact_id"] == 2
