"""The HubSpot Dagster assets against the local server: source tables with and without a token,
the contact sync with its read-back, and one list per audience that sends only the difference."""

import dagster as dg
import duckdb
import pandas as pd
import pytest

from connectors import audiences
from orchestration.assets.hubspot import (
    audience_list_assets,
    hubspot_assets,
    hubspot_checks,
    hubspot_contacts,
    hubspot_read_back,
    hubspot_source_assets,
)
from orchestration.resources import CdpSettings
from tests.fakes import hubspot_server

AUDIENCE = "at_risk_customers"


def test_no_token_means_no_destination_assets_but_the_source_assets_remain(monkeypatch):
    monkeypatch.delenv("CDP_HUBSPOT_TOKEN", raising=False)
    assert (hubspot_assets(), hubspot_checks()) == ([], [])
    keys = sorted(a.key.to_user_string() for a in hubspot_source_assets)
    assert keys == ["raw_hubspot/companies", "raw_hubspot/contacts"]


def test_token_defines_the_contact_sync_and_one_list_per_audience(monkeypatch):
    monkeypatch.setenv("CDP_HUBSPOT_TOKEN", "pat-x")
    names = sorted(a.name for a in audiences.load_audiences())
    assert AUDIENCE in names

    keys = sorted(key.to_user_string() for a in hubspot_assets() for key in a.keys)

    assert keys == ["hubspot/contacts", *(f"hubspot/list_{n}" for n in names)]
    lists = audience_list_assets([AUDIENCE])
    assert [a.key.to_user_string() for a in lists] == [f"hubspot/list_{AUDIENCE}"]
    assert sorted(d.to_user_string() for d in lists[0].dependency_keys) == [
        f"audiences/{AUDIENCE}",
        "hubspot/contacts",
    ]
    assert [k.name for c in hubspot_checks() for k in c.check_keys] == ["hubspot_read_back"]


def test_without_token_the_source_tables_are_written_empty_with_their_columns(tmp_path, monkeypatch):
    monkeypatch.delenv("CDP_HUBSPOT_TOKEN", raising=False)
    warehouse = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("CDP_WAREHOUSE_PATH", str(warehouse))

    result = dg.materialize(hubspot_source_assets, resources={"cdp": CdpSettings()})

    assert result.success
    metadata = result.asset_materializations_for_node("raw_hubspot__contacts")[0].metadata
    assert (metadata["source"].value, metadata["dagster/row_count"].value) == ("not configured", 0)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        contacts = con.execute("DESCRIBE raw_hubspot.contacts").fetchall()
        companies = con.execute("SELECT count(*) FROM raw_hubspot.companies").fetchall()
    assert [(c[0], c[1]) for c in contacts] == [
        (name, "VARCHAR")
        for name in (
            "hubspot_id",
            "created_at",
            "updated_at",
            "email",
            "firstname",
            "lastname",
            "phone",
            "company",
            "jobtitle",
            "lifecyclestage",
        )
    ]
    assert companies == [(0,)]


@pytest.fixture
def hub(tmp_path, monkeypatch):
    server, state, url = hubspot_server.start()
    warehouse = tmp_path / "warehouse.duckdb"
    health = pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3"],
            "health_score": [12.5, 80.0, 55.0],
            "health_tier": ["at_risk", "healthy", "watch"],
            "health_top_reason": ["No login", "Seats up", "Neutral"],
        }
    )
    dims = pd.DataFrame({"customer_id": ["c1", "c2", "c3"], "email": ["A@x.io", "b@x.io", None]})
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA marts")
        con.register("h", health)
        con.register("d", dims)
        con.execute("CREATE TABLE marts.customer_health AS SELECT * FROM h")
        con.execute("CREATE TABLE marts.dim_customers AS SELECT * FROM d")
    monkeypatch.setenv("CDP_WAREHOUSE_PATH", str(warehouse))
    monkeypatch.setenv("CDP_HUBSPOT_TOKEN", hubspot_server.TOKEN)
    monkeypatch.setenv("CDP_HUBSPOT_BASE_URL", url)
    monkeypatch.delenv("CDP_SYNC_DRY_RUN", raising=False)
    yield state, warehouse
    server.shutdown()


def test_contacts_asset_syncs_and_read_back_passes(hub):
    state, warehouse = hub

    result = dg.materialize([hubspot_contacts, hubspot_read_back], resources={"cdp": CdpSettings()})

    assert result.success
    metadata = result.asset_materializations_for_node("hubspot__contacts")[0].metadata
    assert (metadata["inserted"].value, metadata["failed"].value) == (2, 0)
    assert state.by_unique("contacts", "a@x.io")["properties"]["cdp_health_tier"] == "at_risk"
    assert state.by_unique("contacts", "b@x.io")["properties"]["cdp_health_drivers"] == "Seats up"
    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [("hubspot_read_back", True)]


def test_with_token_the_source_tables_hold_every_object_across_pages(hub):
    state, warehouse = hub
    for i in range(130):
        state.add("contacts", {"email": f"p{i}@x.io", "firstname": f"First{i}", "lastname": "Doe"})
    state.add("companies", {"name": "Acme GmbH", "domain": "acme.de", "numberofemployees": "40"})

    result = dg.materialize(hubspot_source_assets, resources={"cdp": CdpSettings()})

    assert result.success
    metadata = result.asset_materializations_for_node("raw_hubspot__contacts")[0].metadata
    assert (metadata["source"].value, metadata["dagster/row_count"].value) == ("HubSpot CRM v3", 130)
    assert "First1" not in metadata["preview"].value  # names are masked in the preview
    pages = [c for c in state.calls if c[:2] == ("GET", "/crm/v3/objects/contacts")]
    assert len(pages) == 2
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(
            "SELECT email, firstname, lastname FROM raw_hubspot.contacts WHERE email = 'p129@x.io'"
        ).fetchall()
        company = con.execute("SELECT name, domain, numberofemployees FROM raw_hubspot.companies").fetchall()
    assert row == [("p129@x.io", "First129", "Doe")]
    assert company == [("Acme GmbH", "acme.de", "40")]


def _members(warehouse, emails: list[str]) -> None:
    frame = pd.DataFrame({"customer_id": [f"c_{e}" for e in emails], "email": emails, "audience": AUDIENCE})
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS audiences")
        con.register("m", frame)
        con.execute(f"CREATE OR REPLACE TABLE audiences.{AUDIENCE} AS SELECT * FROM m")


def _list_metadata(result) -> dict:
    node = f"hubspot__list_{AUDIENCE}"
    return {k: v.value for k, v in result.asset_materializations_for_node(node)[0].metadata.items()}


def test_list_asset_sends_only_membership_changes(hub):
    state, warehouse = hub
    ids = {i: state.add("contacts", {"email": f"p{i}@x.io"}) for i in range(5)}
    [list_asset] = audience_list_assets([AUDIENCE])
    _members(warehouse, ["p0@x.io", "P1@x.io", "p2@x.io", "stranger@y.io"])

    first = dg.materialize([list_asset], resources={"cdp": CdpSettings()})

    assert first.success
    meta = _list_metadata(first)
    assert (meta["added"], meta["removed"], meta["matched"], meta["unmatched"]) == (3, 0, 3, 1)
    assert state.lists[meta["list_id"]]["name"] == f"CDP {AUDIENCE}"
    assert state.members[meta["list_id"]] == {ids[0], ids[1], ids[2]}

    # p0 left the audience (e.g. withdrew consent), p3 joined; p1 and p2 stay.
    _members(warehouse, ["p1@x.io", "p2@x.io", "p3@x.io"])
    calls_before = len(state.calls)

    second = dg.materialize([list_asset], resources={"cdp": CdpSettings()})

    assert (_list_metadata(second)["added"], _list_metadata(second)["removed"]) == (1, 1)
    assert state.members[meta["list_id"]] == {ids[1], ids[2], ids[3]}
    puts = [(c[1].rsplit("/", 1)[-1], c[2]) for c in state.calls[calls_before:] if c[0] == "PUT"]
    assert puts == [("add", 1), ("remove", 1)]

    calls_before = len(state.calls)
    third = dg.materialize([list_asset], resources={"cdp": CdpSettings()})

    assert (_list_metadata(third)["added"], _list_metadata(third)["removed"]) == (0, 0)
    assert [c for c in state.calls[calls_before:] if c[0] == "PUT"] == []


def test_list_asset_dry_run_plans_and_sends_nothing(hub, monkeypatch):
    state, warehouse = hub
    for i in range(3):
        state.add("contacts", {"email": f"p{i}@x.io"})
    _members(warehouse, ["p0@x.io", "p1@x.io"])
    monkeypatch.setenv("CDP_SYNC_DRY_RUN", "true")

    result = dg.materialize(audience_list_assets([AUDIENCE]), resources={"cdp": CdpSettings()})

    meta = _list_metadata(result)
    assert (meta["dry_run"], meta["added"], meta["removed"], meta["list_id"]) == (True, 2, 0, "")
    assert state.lists == {}  # not even the list was created
    assert [c for c in state.calls if c[0] in ("PUT", "POST") and "/batch/read" not in c[1]] == []
