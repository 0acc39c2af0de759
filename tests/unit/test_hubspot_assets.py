"""The HubSpot Dagster assets: absent without a token; with one, sync and read back through the local server."""

import dagster as dg
import duckdb
import pandas as pd
import pytest

from orchestration.assets.hubspot import (
    audience_list_assets,
    hubspot_assets,
    hubspot_checks,
    hubspot_contacts,
    hubspot_read_back,
)
from orchestration.resources import CdpSettings
from tests.fakes import hubspot_server


def test_no_token_no_hubspot_assets(monkeypatch):
    monkeypatch.delenv("CDP_HUBSPOT_TOKEN", raising=False)
    assert (hubspot_assets(), hubspot_checks()) == ([], [])


def test_token_defines_source_and_destination_assets(monkeypatch):
    monkeypatch.setenv("CDP_HUBSPOT_TOKEN", "pat-x")
    keys = sorted(key.to_user_string() for a in hubspot_assets() for key in a.keys)
    assert keys == ["hubspot/contacts", "raw_hubspot/companies", "raw_hubspot/contacts"]
    lists = audience_list_assets(["at_risk_customers"])
    assert [a.key.to_user_string() for a in lists] == ["hubspot/list_at_risk_customers"]
    assert [d.to_user_string() for d in lists[0].dependency_keys] == ["audiences/at_risk_customers"]


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
