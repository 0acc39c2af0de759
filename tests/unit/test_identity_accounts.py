"""Accounts: company name variants, free-mail domains, customer attachment and persistent account ids."""

import re

import pandas as pd
import pytest

from identity import resolve_accounts
from identity._accounts import company_key, is_free_email_domain, normalise_domain

CRM_ACCOUNTS = pd.DataFrame(
    {
        "crm_account_id": [1, 2, 3, 4, 5, 6],
        "account_name": [
            "Acme Ltd",
            "ACME Limited",
            "Globex GmbH",
            "Initech Inc.",
            "Schmidt AG",
            "Schmidt GmbH",
        ],
        "domain": [
            "https://www.acme.co.uk/",
            None,
            "globex.de",
            "initech.com",
            "schmidt.de",
            "schmidt-bau.at",
        ],
        "country_code": ["GB", "GB", "DE", "US", "DE", "AT"],
    }
)
CRM_CONTACTS = pd.DataFrame({"crm_contact_id": [100, 101], "crm_account_id": [3, 3]})

# record_id, customer_id, email, company_name, country, crm_contact_id
RECORDS = [
    ("crm_contacts:100", "cus_globex", "anna@gmail.com", "Whatever Corp", "DE", 100),
    ("lead_forms:1", "cus_bob", "bob@acme.co.uk", None, None, None),
    ("lead_forms:2", "cus_carol", "carol@gmail.com", "ACME, Ltd.", None, None),
    ("lead_forms:3", "cus_dave", "dave@gmail.com", "Schmidt", None, None),
    ("lead_forms:4", "cus_erin", "erin@gmail.com", "SCHMIDT", "AT", None),
    ("lead_forms:5", "cus_frank", "frank@newco.io", "NewCo", None, None),
    ("lead_forms:6", "cus_gina", "gina@newco.io", None, None, None),
    ("lead_forms:7", "cus_hank", "hank@gmail.com", "NEWCO Limited", None, None),
    ("lead_forms:8", "cus_ian", "ian@gmail.com", None, None, None),
    ("lead_forms:9", "cus_jo", "jo@gmial.com", None, None, None),
    ("crm_contacts:101", "cus_kim", "kim@globex.de", "Globex", "DE", 101),
    ("lead_forms:10", "cus_kim", "kim@acme.co.uk", "Acme", None, None),
    ("events:1", "cus_lee", "lee@uk.initech.com", None, None, None),
]


def _inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = pd.DataFrame(
        RECORDS, columns=["record_id", "customer_id", "email", "company_name", "country", "crm_contact_id"]
    )
    frame["crm_contact_id"] = frame["crm_contact_id"].astype("Int64")
    return frame.drop(columns=["customer_id"]), frame[["record_id", "customer_id"]]


def _resolve(**previous) -> tuple:
    records, clusters = _inputs()
    result = resolve_accounts(records, clusters, CRM_ACCOUNTS, CRM_CONTACTS, **previous)
    attached = result.customer_accounts.merge(result.accounts, on="account_id")
    return result, attached.set_index("customer_id")


@pytest.mark.parametrize(
    ("variant", "key"),
    [
        ("ACME Ltd.", "acme"),
        ("Acme Limited", "acme"),
        ("acme, Inc", "acme"),
        ("Brown Retail L.L.C.", "brownretail"),
        ("Briones Grupo S.A. de C.V.", "brionesgrupo"),
        ("Fangzhengkeji Logistics Co., Ltd.", "fangzhengkejilogistics"),
        ("Barkholz Aktiengesellschaft", "barkholz"),
        ("Biswas Industries Private Limited", "biswasindustries"),
        ("Grenier Énergie SAS", "grenierenergie"),
        ("The Blue Path Company", "bluepath"),
    ],
)
def test_company_key_folds_name_variants(variant, key):
    assert company_key(variant) == key


def test_company_key_keeps_distinct_companies_apart():
    assert company_key("Barkholz Logistik AG") != company_key("Barkholz AG")
    assert company_key("Ltd.") is None


def test_free_mail_domains_and_their_misspellings_are_recognised():
    assert all(is_free_email_domain(d) for d in ["gmail.com", "gmial.com", "yahoo.co.uk", "web.de", "qq.com"])
    assert not any(is_free_email_domain(d) for d in ["acme.co.uk", "globex.de", "newco.io"])
    assert normalise_domain("HTTPS://www.Acme.co.uk:443/about") == "acme.co.uk"


def test_crm_duplicates_merge_but_same_name_with_different_domains_does_not():
    result, _ = _resolve()
    crm_ids = set(result.accounts["crm_account_ids"].dropna())

    # "Acme Ltd" (acme.co.uk) and "ACME Limited" (no domain) are one company; the two Schmidts are not.
    assert crm_ids == {"1,2", "3", "4", "5", "6"}
    acme = result.accounts.set_index("crm_account_ids").loc["1,2"]
    assert (acme["account_name"], acme["account_domain"]) == ("Acme Ltd", "acme.co.uk")
    assert result.stats["crm_accounts_merged"] == 1


def test_customers_attach_by_their_strongest_evidence():
    _, attached = _resolve()

    assert attached.loc["cus_globex", ["crm_account_ids", "match_rule"]].tolist() == ["3", "crm_account"]
    assert attached.loc["cus_bob", ["crm_account_ids", "match_rule"]].tolist() == ["1,2", "email_domain"]
    assert attached.loc["cus_carol", ["crm_account_ids", "match_rule"]].tolist() == ["1,2", "company_name"]
    # A subdomain belongs to its parent domain's company.
    assert attached.loc["cus_lee", "crm_account_ids"] == "4"
    # Two CRM companies are called Schmidt: only the record's country (AT) can pick one.
    assert attached.loc["cus_erin", "crm_account_ids"] == "6"
    assert "cus_dave" not in attached.index
    # A CRM contact's own account beats a work email at another company.
    assert attached.loc["cus_kim", ["crm_account_ids", "match_rule"]].tolist() == ["3", "crm_account"]


def test_free_mail_alone_attaches_nobody_and_prospects_group_by_domain_or_name():
    result, attached = _resolve()

    assert "cus_ian" not in attached.index and "cus_jo" not in attached.index
    newco = attached.loc[["cus_frank", "cus_gina", "cus_hank"]]
    assert newco["account_id"].nunique() == 1
    assert newco["is_in_crm"].tolist() == [False, False, False]
    assert newco["account_domain"].iloc[0] == "newco.io"
    assert newco["match_rule"].tolist() == ["email_domain", "email_domain", "company_name"]
    assert result.stats["accounts"] == 6 and result.stats["prospect_accounts"] == 1
    assert newco["customer_count"].iloc[0] == 3 and newco["source_record_count"].iloc[0] == 3


def test_account_ids_are_minted_once_and_survive_a_rerun():
    first, _ = _resolve()
    second, _ = _resolve(previous_accounts=first.accounts, previous_customer_accounts=first.customer_accounts)

    assert all(re.fullmatch(r"acc_[0-9a-f]{16}", a) for a in first.accounts["account_id"])
    pd.testing.assert_frame_equal(first.accounts, second.accounts)
    pd.testing.assert_frame_equal(first.customer_accounts, second.customer_accounts)
    assert second.stats["accounts_keeping_previous_id"] == 6


def test_merged_accounts_keep_the_id_of_the_larger_previous_account():
    previous_accounts = pd.DataFrame(
        {"account_id": ["acc_000000000000000a", "acc_000000000000000b"], "crm_account_ids": ["1", "2"]}
    )
    # Two customers were attached to the second account, none to the first.
    previous_customer_accounts = pd.DataFrame(
        {
            "customer_id": ["cus_bob", "cus_carol"],
            "account_id": ["acc_000000000000000b", "acc_000000000000000b"],
            "match_rule": ["company_name", "company_name"],
        }
    )

    result, attached = _resolve(
        previous_accounts=previous_accounts, previous_customer_accounts=previous_customer_accounts
    )

    assert attached.loc["cus_bob", "account_id"] == "acc_000000000000000b"
    assert "acc_000000000000000a" not in set(result.accounts["account_id"])


def test_prospects_group_by_domain_when_no_unattached_customer_names_a_company():
    records = pd.DataFrame(
        [
            ("lead_forms:6", "gina@newco.io", None, None, None),
            ("lead_forms:11", "max@newco.io", None, None, None),
        ],
        columns=["record_id", "email", "company_name", "country", "crm_contact_id"],
    )
    records["crm_contact_id"] = records["crm_contact_id"].astype("Int64")
    clusters = pd.DataFrame(
        {"record_id": ["lead_forms:6", "lead_forms:11"], "customer_id": ["cus_gina", "cus_max"]}
    )
    result = resolve_accounts(records, clusters, CRM_ACCOUNTS, CRM_CONTACTS)
    attached = result.customer_accounts.set_index("customer_id")
    assert attached.loc["cus_gina", "account_id"] == attached.loc["cus_max", "account_id"]
    assert result.stats["prospect_accounts"] == 1
