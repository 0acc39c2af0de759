"""The asset graph as a reviewed snapshot, and the properties every asset must have."""

import os
from pathlib import Path

import dagster as dg

SNAPSHOT = Path(__file__).with_name("asset_graph.txt")


def _graph_lines() -> list[str]:
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    lines = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        parents = ",".join(sorted(p.to_user_string() for p in node.parent_keys))
        lines.append(f"{key.to_user_string()} [{node.group_name}] <- {parents}")
    for check in sorted(graph.asset_check_keys, key=lambda c: (c.asset_key.to_user_string(), c.name)):
        if not check.name.startswith(("not_null", "unique", "accepted_values", "relationships", "dbt_")):
            lines.append(f"check {check.asset_key.to_user_string()}:{check.name}")
    return lines


def test_asset_graph_matches_the_reviewed_snapshot():
    lines = _graph_lines()
    if os.environ.get("CDP_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected = SNAPSHOT.read_text(encoding="utf-8").splitlines()
    assert lines == expected, (
        "asset graph changed; if intended, rerun with CDP_UPDATE_SNAPSHOTS=1 and review the diff"
    )


def test_every_asset_states_its_grain_and_group_is_its_schema():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        description = (node.description or "").lower()
        assert "one row per" in description, f"{key.to_user_string()} description must state its grain"
        assert node.group_name == key.path[0]


def test_graph_is_connected_from_sources_to_the_crm_sync():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    upstream = graph.get_ancestor_asset_keys(dg.AssetKey(["crm", "contact_health_fields"]))
    for source in (
        ["raw_crm", "contacts"],
        ["raw_marketing", "events"],
        ["raw_service", "tickets"],
        ["raw_consent", "consent_log"],
        ["identity", "customer_clusters"],
    ):
        assert dg.AssetKey(source) in upstream, source


def test_identity_and_sync_feed_checks_block():
    from orchestration.checks import gx_checks

    checks = {spec.name: spec for definition in gx_checks for spec in definition.check_specs}
    assert checks["customer_clusters_quality"].blocking
    assert checks["crm_contact_scores_quality"].blocking
    assert not checks["crm_contacts_quality"].blocking
