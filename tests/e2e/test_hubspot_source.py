"""HubSpot as a source and a destination in one pipeline run against the local HubSpot server.

A tiny sample CRM plus two HubSpot contacts: one is a CRM contact's person (same address, typed
differently), the other exists only in HubSpot. After the run the first shares the CRM contact's
customer id, the second is a customer of its own, the health fields reach HubSpot and every
audience became a list.
"""

from datetime import date

import duckdb
import pytest
import sqlalchemy as sa

from connectors import audiences
from connectors.sample import generate
from tests.e2e._environment import pipeline_environment
from tests.fakes import hubspot_server

pytestmark = pytest.mark.e2e

AS_OF = date(2026, 11, 1)
HUBSPOT_ONLY = "zed.quill@quillworks.io"


@pytest.fixture(scope="module")
def hubspot_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hubspot_e2e")
    landing = root / "landing"
    generate(landing, customers=40, seed=5, as_of=AS_OF, malformed_per_kind=0)
    crm_url = f"sqlite:///{landing / 'crm.sqlite'}"
    engine = sa.create_engine(crm_url)
    with engine.connect() as conn:
        crm_id, first, last, email = conn.execute(
            sa.text(
                "SELECT contact_id, first_name, last_name, email FROM contacts "
                "WHERE email IS NOT NULL AND first_name IS NOT NULL ORDER BY contact_id LIMIT 1"
            )
        ).one()
    engine.dispose()
    server, hub, url = hubspot_server.start()
    same_person = hub.add(
        "contacts",
        {"email": email.upper(), "firstname": first, "lastname": last, "company": "Somewhere"},
    )
    stranger = hub.add(
        "contacts",
        {
            "email": HUBSPOT_ONLY,
            "firstname": "Zed",
            "lastname": "Quill",
            "phone": "+44 20 7946 0000",
            "company": "Quillworks Ltd",
        },
    )
    hub.add("companies", {"name": "Quillworks Ltd", "domain": "quillworks.io", "numberofemployees": "12"})
    values = {
        **pipeline_environment(root, landing, landing / "crm.sqlite", AS_OF),
        "CDP_HUBSPOT_TOKEN": hubspot_server.TOKEN,
        "CDP_HUBSPOT_BASE_URL": url,
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in values.items():
            patch.setenv(key, value)
        patch.delenv("CDP_SYNC_DRY_RUN", raising=False)
        from orchestration.runner import run_pipeline

        result = run_pipeline()
    server.shutdown()
    yield {
        "root": root,
        "result": result,
        "hub": hub,
        "warehouse": values["CDP_WAREHOUSE_PATH"],
        "crm_id": str(crm_id),
        "email": email.strip().lower(),
        "same_person": same_person,
        "stranger": stranger,
    }


def query(run, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(run["warehouse"], read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_pipeline_with_hubspot_succeeds(hubspot_run):
    result = hubspot_run["result"]
    failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failed == []
    assert result.success


def test_the_token_is_in_no_file_the_run_left(hubspot_run):
    # Run storage, event and compute logs under DAGSTER_HOME, the warehouse, the reports, the landing folder.
    token = hubspot_server.TOKEN.encode()
    files = [p for p in hubspot_run["root"].rglob("*") if p.is_file()]
    assert any(p.name.endswith(".db") for p in files), "the run storage is among the files scanned"
    assert [str(p) for p in files if token in p.read_bytes()] == []


def test_hubspot_contacts_reach_person_records(hubspot_run):
    rows = query(
        hubspot_run,
        "SELECT source_record_id, email, first_name, company_name FROM intermediate.int_person_records "
        "WHERE source = 'hubspot_contacts' ORDER BY source_record_id",
    )
    assert len(rows) == 2
    by_id = {r[0]: r[1:] for r in rows}
    assert by_id[hubspot_run["stranger"]] == (HUBSPOT_ONLY, "Zed", "Quillworks Ltd")
    assert by_id[hubspot_run["same_person"]][0] == hubspot_run["email"]  # lower-cased
    assert query(hubspot_run, "SELECT company_name, employee_count FROM staging.stg_hubspot__companies") == [
        ("Quillworks Ltd", 12)
    ]


def test_hubspot_contact_shares_the_crm_contacts_customer_id(hubspot_run):
    clusters = dict(
        query(
            hubspot_run,
            "SELECT record_id, customer_id FROM identity.customer_clusters WHERE record_id IN (?, ?, ?)",
            [
                f"crm_contacts:{hubspot_run['crm_id']}",
                f"hubspot_contacts:{hubspot_run['same_person']}",
                f"hubspot_contacts:{hubspot_run['stranger']}",
            ],
        )
    )
    crm_customer = clusters[f"crm_contacts:{hubspot_run['crm_id']}"]
    assert clusters[f"hubspot_contacts:{hubspot_run['same_person']}"] == crm_customer
    stranger_customer = clusters[f"hubspot_contacts:{hubspot_run['stranger']}"]
    assert stranger_customer != crm_customer
    members = query(
        hubspot_run,
        "SELECT record_id FROM identity.customer_clusters WHERE customer_id = ?",
        [stranger_customer],
    )
    assert members == [(f"hubspot_contacts:{hubspot_run['stranger']}",)]


def test_health_fields_and_audience_lists_reach_hubspot(hubspot_run):
    hub = hubspot_run["hub"]
    customer = query(
        hubspot_run,
        "SELECT customer_id FROM identity.customer_clusters WHERE record_id = ?",
        [f"crm_contacts:{hubspot_run['crm_id']}"],
    )[0][0]
    synced = hub.by_unique("contacts", hubspot_run["email"])
    assert synced is not None and synced["id"] == hubspot_run["same_person"]  # updated, not duplicated
    assert synced["properties"]["cdp_customer_id"] == customer
    assert hub.duplicates("contacts") == []
    names = {f"CDP {a.name}" for a in audiences.load_audiences()}
    assert {item["name"] for item in hub.lists.values()} == names
    assert any(hub.members.values()), "at least one audience list should have members"
    for list_id, item in hub.lists.items():
        audience = item["name"].removeprefix("CDP ")
        expected = {
            hub.by_unique("contacts", email)["id"]
            for (email,) in query(hubspot_run, f"SELECT lower(email) FROM audiences.{audience}")
            if hub.by_unique("contacts", email) is not None
        }
        assert hub.members[list_id] == expected, audience
