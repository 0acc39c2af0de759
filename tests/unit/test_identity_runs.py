"""An identity run links only new records when that is safe, and re-resolves everything otherwise."""

import pandas as pd
import pytest

import identity
from tests.unit._identity_records import person_records

RECORDS = person_records(
    [
        ("crm_contacts:1", "Maria", "Lopez", "maria.lopez@acme.io", None),
        ("tickets:1", None, None, "maria.lopez@acme.io", None),
        ("crm_contacts:2", "Tom", "Baker", "tom.baker@globex.io", None),
    ]
)
NEW = person_records([("lead_forms:3", "Ann", "Short", "ann@initech.io", None)])


def _plan(current: pd.DataFrame, previous: pd.DataFrame | None, **kwargs) -> identity.RunPlan:
    options = {"signature": "a", "previous_signature": "a", "max_new_share": 0.5, **kwargs}
    return identity.plan_run(
        identity.fingerprints(current),
        None if previous is None else identity.fingerprints(previous),
        options["signature"],
        options["previous_signature"],
        options.get("requested", "auto"),
        options["max_new_share"],
    )


def test_new_records_alone_are_linked_incrementally_and_nothing_new_changes_nothing():
    plan = _plan(pd.concat([RECORDS, NEW]), RECORDS)
    assert (plan.mode, plan.new, plan.changed, plan.removed) == ("incremental", ["lead_forms:3"], [], [])
    assert _plan(RECORDS, RECORDS).mode == "unchanged"


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("first", "no earlier identity run"),
        ("requested", "full reconcile requested"),
        ("config", "model, threshold, size limit or steward decisions changed"),
        ("changed", "1 changed and 0 removed record(s)"),
        ("removed", "0 changed and 1 removed record(s)"),
        ("many_new", "1 new records exceed 10% of the known ones"),
    ],
)
def test_anything_an_incremental_run_cannot_do_honestly_makes_it_a_full_reconcile(case, reason):
    edited = RECORDS.copy()
    edited.loc[edited["record_id"] == "crm_contacts:2", "email"] = "tom@baker.family"
    current, previous, options = pd.concat([RECORDS, NEW]), RECORDS, {}
    if case == "first":
        previous = None
    elif case == "requested":
        options["requested"] = "full"
    elif case == "config":
        options["signature"] = "b"
    elif case == "changed":
        current = edited
    elif case == "removed":
        current = RECORDS.iloc[:2]
    elif case == "many_new":
        options["max_new_share"] = 0.1
    plan = _plan(current, previous, **options)
    assert (plan.mode, plan.reason) == ("full", reason)
    if case == "changed":
        assert plan.changed == ["crm_contacts:2"]


def test_the_configuration_digest_changes_with_the_model_the_decisions_and_the_limits(tmp_path):
    model = tmp_path / "model.json"
    model.write_text('{"m": 1}', encoding="utf-8")
    decisions = tmp_path / "overrides.yaml"
    decisions.write_text("decisions: []\n", encoding="utf-8")
    base = identity.config_signature(model, decisions, 0.95, 50)
    assert identity.config_signature(model, decisions, 0.95, 50) == base
    assert identity.config_signature(model, decisions, 0.9, 50) != base
    assert identity.config_signature(model, decisions, 0.95, None) != base
    decisions.write_text("decisions: [{kind: must_link}]\n", encoding="utf-8")
    assert identity.config_signature(model, decisions, 0.95, 50) != base


def test_an_unknown_mode_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="auto, full"):
        _plan(RECORDS, RECORDS, requested="incremental")
