"""An unchanged rerun redoes no work: quality checks carry their last outcome over instead of
validating again, and the accounts are not resolved again, until something they depend on changes."""

from datetime import date, timedelta

import dagster as dg
import duckdb
import pandas as pd
import pytest

import expectations
import identity
from connectors import warehouse
from expectations import suite
from expectations._store import CARRIED_OVER_NOTE
from orchestration.assets.accounts import customer_accounts
from orchestration.checks import gx_checks
from orchestration.resources import CdpSettings

AS_OF = date(2026, 11, 1)
CONTACTS = suite("crm_contacts_quality")
EMAIL_RULE = "expect_column_values_to_match_regex(email)"


def contacts(second_email: str = "bo@example.org") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "contact_id": [1, 2, 3],
            "first_name": ["Ada", "Bo", "Cy"],
            "last_name": ["Lovelace", "Diddley", "Young"],
            "email": ["ada@example.com", second_email, "cy@example.net"],
            "phone": ["+44 20 7946 0958", "(212) 555-0100", None],
            "account_id": [10.0, 11.0, None],
            "owner_user_id": [1, 2, 1],
            "lifecycle_stage": ["lead", "customer", "mql"],
            "created_at": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"]),
            "updated_at": pd.to_datetime(["2026-10-20", "2026-10-25", "2026-10-30"]),
        }
    )


@pytest.fixture
def con():
    with duckdb.connect() as connection:
        accounts = pd.DataFrame({"account_id": [10, 11], "_loaded_at": pd.to_datetime(["2026-11-01"] * 2)})
        warehouse.replace_table(connection, "raw_crm", "accounts", accounts)
        warehouse.replace_table(connection, "raw_crm", "users", pd.DataFrame({"user_id": [1, 2]}))
        warehouse.replace_table(connection, "raw_crm", "contacts", contacts())
        yield connection


@pytest.fixture
def validations(monkeypatch) -> list[str]:
    """The suites validated from now on (the real validator still runs)."""
    seen: list[str] = []
    real = expectations._store.validate

    def counting(frame, spec, **kwargs):
        seen.append(spec.name)
        return real(frame, spec, **kwargs)

    monkeypatch.setattr("expectations._store.validate", counting)
    return seen


def forbid_validation(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("validated although nothing changed")

    monkeypatch.setattr("expectations._store.validate", refuse)


def summary(outcome: expectations.SuiteOutcome) -> list[tuple]:
    return [(r.expectation, r.success, r.unexpected_count, r.observed, r.error) for r in outcome.results]


def check(con, run_id: str, **kwargs) -> expectations.SuiteOutcome:
    return expectations.check_table(con, CONTACTS, run_id=run_id, **{"as_of": AS_OF, **kwargs})


def test_an_unchanged_table_keeps_its_outcome_without_being_validated_again(con, monkeypatch):
    warehouse.replace_table(con, "raw_crm", "contacts", contacts(second_email="bo at example.org"))
    first = check(con, "run-1")
    forbid_validation(monkeypatch)

    second = check(con, "run-2")
    third = check(con, "run-3")

    assert not first.success and [r.expectation for r in first.failed] == [EMAIL_RULE]
    assert first.carried_over_from is None
    assert (second.carried_over_from, third.carried_over_from) == ("run-1", "run-1")
    assert (second.success, second.rows, summary(second)) == (False, 3, summary(first))
    recorded = con.execute(
        "SELECT run_id, count(*), count(*) FILTER (WHERE NOT success), "
        "count(*) FILTER (WHERE observed LIKE '%[carried over from run run-1: inputs unchanged]') "
        "FROM quality.check_results GROUP BY run_id ORDER BY run_id"
    ).fetchall()
    assert recorded == [("run-1", 15, 1, 0), ("run-2", 15, 1, 15), ("run-3", 15, 1, 15)]
    email = con.execute(
        "SELECT observed FROM quality.check_results WHERE run_id = 'run-2' AND expectation = ?",
        [EMAIL_RULE],
    ).fetchall()
    assert email == [(CARRIED_OVER_NOTE.format(run_id="run-1"),)]
    failures = con.execute(
        "SELECT run_id, expectation, key_column, key_value FROM quality.check_failures ORDER BY run_id"
    ).fetchall()
    assert failures == [(run, EMAIL_RULE, "contact_id", "2") for run in ("run-1", "run-2", "run-3")]


def test_a_changed_row_is_validated_again(con, validations):
    assert check(con, "run-1").success
    con.execute("UPDATE raw_crm.contacts SET email = 'bo at example.org' WHERE contact_id = 2")

    second = check(con, "run-2")

    assert validations == [CONTACTS.name, CONTACTS.name]
    assert second.carried_over_from is None
    assert [(r.expectation, r.unexpected_count, r.failing_keys) for r in second.failed] == [
        (EMAIL_RULE, 1, ["2"])
    ]


def test_a_changed_referenced_table_is_validated_again(con, validations):
    assert check(con, "run-1").success
    con.execute("DELETE FROM raw_crm.accounts WHERE account_id = 11")

    second = check(con, "run-2")

    assert validations == [CONTACTS.name, CONTACTS.name]
    orphans = "expect_column_values_to_exist_in(account_id->raw_crm.accounts.account_id)"
    assert [(r.expectation, r.unexpected_count, r.failing_keys) for r in second.failed] == [
        (orphans, 1, ["2"])
    ]


def test_a_referenced_table_changed_outside_its_key_column_is_not_validated_again(con, validations):
    check(con, "run-1")
    con.execute("UPDATE raw_crm.accounts SET _loaded_at = TIMESTAMP '2026-11-02'")

    second = check(con, "run-2")

    assert validations == [CONTACTS.name]
    assert second.carried_over_from == "run-1" and second.success


def test_a_later_as_of_date_is_validated_again_and_finds_the_table_stale(con, validations):
    assert check(con, "run-1").success

    later = check(con, "run-2", as_of=AS_OF + timedelta(days=30))

    assert validations == [CONTACTS.name, CONTACTS.name]
    assert [r.expectation for r in later.failed] == ["expect_column_max_to_be_between(updated_at)"]


def test_a_renamed_column_is_validated_again_though_the_values_are_the_same(con, validations):
    assert check(con, "run-1").success
    con.execute("ALTER TABLE raw_crm.contacts RENAME COLUMN lifecycle_stage TO stage")

    renamed = check(con, "run-2")

    with duckdb.connect() as other:
        # Same values under the old name: the row hashes agree, the columns part tells them apart.
        warehouse.replace_table(other, "raw_crm", "contacts", contacts())
        before, after = (warehouse.table_fingerprint(c, "raw_crm", "contacts") for c in (other, con))
        assert before.rsplit(":", 1)[0] == after.rsplit(":", 1)[0] and before != after
    assert validations == [CONTACTS.name, CONTACTS.name]
    assert [r.expectation for r in renamed.failed] == [
        "expect_column_values_to_be_in_set(lifecycle_stage)",
        "expect_table_columns_to_match_set()",
    ]


def test_the_volume_baseline_and_tolerance_are_inputs_of_the_outcome(con, validations):
    first = check(con, "run-1", max_volume_change=0.5)
    second = check(con, "run-2", max_volume_change=0.5)
    # A later passing run of 10 rows: three rows now are a 70 % drop from that baseline.
    con.execute(
        "INSERT INTO quality.check_results SELECT 'run-x', checked_at + INTERVAL 1 SECOND, suite, "
        "table_schema, table_name, expectation, severity, blocking, success, unexpected_count, observed, 10 "
        "FROM quality.check_results WHERE run_id = 'run-2' AND expectation = ?",
        [f"{expectations._validate.VOLUME_EXPECTATION}()"],
    )
    third = check(con, "run-3", max_volume_change=0.5)
    fourth = check(con, "run-4", max_volume_change=0.8)

    assert first.success and second.carried_over_from == "run-1"
    assert validations == [CONTACTS.name, CONTACTS.name, CONTACTS.name]
    assert third.carried_over_from is None
    volume = [r for r in third.results if r.expectation == f"{expectations._validate.VOLUME_EXPECTATION}()"]
    assert [(r.success, r.observed) for r in volume] == [
        (False, "3 rows; previous run 10 (-70.0%, allowed ±50%)")
    ]
    assert fourth.carried_over_from is None and fourth.success


def test_revalidate_validates_an_unchanged_table(con, validations):
    check(con, "run-1")
    check(con, "run-2")
    forced = check(con, "run-3", revalidate=True)

    assert validations == [CONTACTS.name, CONTACTS.name]
    assert forced.carried_over_from is None and forced.success


def clusters(sizes: list[int]) -> pd.DataFrame:
    rows = [(f"r{c}_{i}", f"cus_{c}") for c, size in enumerate(sizes) for i in range(size)]
    return pd.DataFrame(rows, columns=["record_id", "customer_id"])


def test_identity_health_is_carried_over_until_its_baseline_moves(con, monkeypatch):
    warehouse.replace_table(con, "identity", "customer_clusters", clusters([2, 2]))
    first = expectations.check_identity_health(con, "run-1")
    real = expectations._identity_health.graph_health

    def refuse(*args, **kwargs):
        raise AssertionError("measured although nothing changed")

    monkeypatch.setattr("expectations._identity_health.graph_health", refuse)
    second = expectations.check_identity_health(con, "run-2")
    # A later good run that merged nothing: this graph now looks like a jump in merges.
    con.execute(
        "INSERT INTO quality.identity_health_history SELECT 'run-x', checked_at + INTERVAL 1 SECOND, "
        "records, records, 0, 0, 0, 1, true FROM quality.identity_health_history WHERE run_id = 'run-2'"
    )
    monkeypatch.setattr("expectations._identity_health.graph_health", real)
    third = expectations.check_identity_health(con, "run-3")

    assert first.outcome.success and first.merge_rate == 0.5
    assert second.outcome.carried_over_from == "run-1" and second.outcome.success
    assert (second.records, second.customers, second.merge_rate, second.size_distribution) == (
        4,
        2,
        0.5,
        {"1": 0, "2": 2, "3-5": 0, "6-10": 0, "11-20": 0, "21+": 0},
    )
    assert third.outcome.carried_over_from is None and not third.outcome.success
    assert third.previous_merge_rate == 0
    history = con.execute(
        "SELECT run_id, merge_rate, passed FROM quality.identity_health_history ORDER BY run_id"
    ).fetchall()
    assert history == [("run-1", 0.5, True), ("run-2", 0.5, True), ("run-3", 0.5, False), ("run-x", 0, True)]
    observed = con.execute(
        "SELECT run_id, observed FROM quality.check_results WHERE suite = 'identity_graph_health' ORDER BY run_id"
    ).fetchall()
    assert observed[1] == (
        "run-2",
        "merge rate 0.500; no earlier run to compare with [carried over from run run-1: inputs unchanged]",
    )
    assert observed[2] == ("run-3", "merge rate 0.500; previous 0.000 (+0.500, allowed ±0.100)")


# -- through Dagster -----------------------------------------------------------------------------

CLUSTERS_CHECK = next(c for c in gx_checks if [k.name for k in c.check_keys] == ["customer_clusters_quality"])


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("CDP_WAREHOUSE_PATH", str(path))
    monkeypatch.setenv("CDP_AS_OF_DATE", AS_OF.isoformat())
    return path


@dg.asset(key=["identity", "customer_clusters"])
def broken_clusters(cdp: CdpSettings) -> None:
    """Writes the same two clusters on every run, one with a malformed customer id."""
    frame = pd.DataFrame(
        {
            "record_id": ["crm:1", "crm:2"],
            "source": ["crm", "crm"],
            "source_record_id": ["1", "2"],
            "customer_id": ["cus_0123456789abcdef", "not-an-id"],
            "cluster_size": [1, 1],
            "match_probability": [1.0, 1.0],
            "resolved_at": pd.to_datetime(["2026-10-01", "2026-10-01"]),
        }
    )
    with warehouse.connect(cdp.load().warehouse_path) as con:
        warehouse.replace_table(con, "identity", "customer_clusters", frame)


@dg.asset(deps=[["identity", "customer_clusters"]])
def downstream_mart() -> None:
    """Stands for the marts a blocking identity check protects."""


def _materialize(**kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [broken_clusters, CLUSTERS_CHECK, downstream_mart],
        resources={"cdp": CdpSettings()},
        raise_on_error=False,
        **kwargs,
    )


def test_a_carried_over_failing_blocking_check_still_fails_with_error_and_blocks(scratch, monkeypatch):
    first = _materialize()
    forbid_validation(monkeypatch)
    second = _materialize()

    for result in (first, second):
        [evaluation] = result.get_asset_check_evaluations()
        assert (evaluation.passed, evaluation.severity) == (False, dg.AssetCheckSeverity.ERROR)
        materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
        assert materialized == {"identity/customer_clusters"}
    [before] = first.get_asset_check_evaluations()
    [after] = second.get_asset_check_evaluations()
    assert before.metadata["revalidated"].value is True
    assert before.metadata["validated_in_run"].value == first.run_id
    assert after.metadata["revalidated"].value is False
    assert after.metadata["validated_in_run"].value == first.run_id
    assert after.metadata["not_revalidated_because"].value == f"inputs unchanged since run {first.run_id}"
    for key in ("rows_validated", "expectations", "failed_expectations", "results"):
        assert after.metadata[key] == before.metadata[key], key
    assert after.metadata["failed_expectations"].value == 1


def test_the_revalidate_tag_validates_an_unchanged_check(scratch, validations):
    first = _materialize()
    forced = _materialize(tags={"cdp/quality_revalidate": "true"})

    assert validations == ["customer_clusters_quality", "customer_clusters_quality"]
    [evaluation] = forced.get_asset_check_evaluations()
    assert evaluation.metadata["revalidated"].value is True
    assert evaluation.metadata["validated_in_run"].value == forced.run_id != first.run_id


CRM_ACCOUNTS = pd.DataFrame(
    {
        "crm_account_id": [1, 2],
        "account_name": ["Acme Ltd", "Globex GmbH"],
        "domain": ["acme.com", "globex.de"],
        "country_code": ["GB", "DE"],
        "_loaded_at": pd.to_datetime(["2026-11-01", "2026-11-01"]),
    }
)
CRM_CONTACTS = pd.DataFrame({"crm_contact_id": [100], "crm_account_id": [2]})
RECORDS = pd.DataFrame(
    {
        "record_id": ["crm_contacts:100", "lead_forms:1", "lead_forms:2"],
        "email": ["anna@gmail.com", "bob@acme.com", "carol@newco.io"],
        "company_name": [None, None, "NewCo"],
        "country": ["DE", None, None],
        "crm_contact_id": pd.array([100, None, None], dtype="Int64"),
        "phone": ["+49 30 1234567", None, None],
    }
)
CUSTOMERS = pd.DataFrame(
    {"record_id": RECORDS["record_id"], "customer_id": ["cus_anna", "cus_bob", "cus_carol"]}
)


@pytest.fixture
def accounts_warehouse(scratch):
    with warehouse.connect(scratch) as con:
        warehouse.replace_table(con, "staging", "stg_crm__accounts", CRM_ACCOUNTS)
        warehouse.replace_table(con, "staging", "stg_crm__contacts", CRM_CONTACTS)
        warehouse.replace_table(con, "intermediate", "int_person_records", RECORDS)
        warehouse.replace_table(con, "identity", "customer_clusters", CUSTOMERS)
    return scratch


def resolve(**kwargs) -> dict[str, dict]:
    result = dg.materialize([customer_accounts], resources={"cdp": CdpSettings()}, **kwargs)
    assert result.success
    return {
        e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
        | {"run_id": result.run_id}
        for e in result.get_asset_materialization_events()
    }


def attachments(path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "SELECT c.customer_id, a.account_name, c.account_id, c.match_rule FROM identity.customer_accounts c "
            "JOIN identity.accounts a USING (account_id) ORDER BY c.customer_id"
        ).fetchall()


def test_unchanged_inputs_skip_the_account_resolution_and_keep_the_ids(accounts_warehouse, monkeypatch):
    first = resolve()
    before = attachments(accounts_warehouse)

    def refuse(*args, **kwargs):
        raise AssertionError("resolved although nothing changed")

    monkeypatch.setattr(identity, "resolve_accounts", refuse)
    second = resolve()

    assert [(customer, name, rule) for customer, name, _, rule in before] == [
        ("cus_anna", "Globex GmbH", "crm_account"),
        ("cus_bob", "Acme Ltd", "email_domain"),
        ("cus_carol", "NewCo", "email_domain"),
    ]
    assert attachments(accounts_warehouse) == before
    assert first["identity/accounts"]["recomputed"] is True
    for key in ("identity/accounts", "identity/customer_accounts"):
        assert second[key]["recomputed"] is False
        assert second[key]["unchanged_since_run"] == first[key]["run_id"]
        assert second[key]["dagster/row_count"] == first[key]["dagster/row_count"]
    assert second["identity/accounts"]["dagster/row_count"] == second["identity/accounts"]["accounts"] == 3
    assert second["identity/customer_accounts"]["dagster/row_count"] == 3


def test_changes_in_columns_the_resolution_does_not_read_keep_the_accounts(accounts_warehouse):
    first = resolve()
    with warehouse.connect(accounts_warehouse) as con:
        con.execute("UPDATE staging.stg_crm__accounts SET _loaded_at = TIMESTAMP '2026-11-02'")
        con.execute("UPDATE intermediate.int_person_records SET phone = '+49 30 7654321'")

    second = resolve()

    assert second["identity/accounts"]["recomputed"] is False
    assert second["identity/accounts"]["unchanged_since_run"] == first["identity/accounts"]["run_id"]


def test_one_changed_row_resolves_the_accounts_again_and_keeps_the_ids(accounts_warehouse):
    resolve()
    before = {name: account for _, name, account, _ in attachments(accounts_warehouse)}
    with warehouse.connect(accounts_warehouse) as con:
        con.execute(
            "UPDATE intermediate.int_person_records SET email = 'carol@acme.com', company_name = NULL "
            "WHERE record_id = 'lead_forms:2'"
        )

    second = resolve()

    assert second["identity/accounts"]["recomputed"] is True
    assert attachments(accounts_warehouse) == [
        ("cus_anna", "Globex GmbH", before["Globex GmbH"], "crm_account"),
        ("cus_bob", "Acme Ltd", before["Acme Ltd"], "email_domain"),
        ("cus_carol", "Acme Ltd", before["Acme Ltd"], "email_domain"),
    ]
    assert second["identity/accounts"]["dagster/row_count"] == 2


def test_edited_account_tables_or_a_full_reconcile_resolve_again(accounts_warehouse):
    resolve()
    before = attachments(accounts_warehouse)
    with warehouse.connect(accounts_warehouse) as con:
        con.execute("DELETE FROM identity.customer_accounts WHERE customer_id = 'cus_bob'")

    repaired = resolve()
    full = resolve(tags={"cdp/identity_mode": "full"})
    unchanged = resolve()

    assert repaired["identity/customer_accounts"]["recomputed"] is True
    assert attachments(accounts_warehouse) == before
    assert full["identity/accounts"]["recomputed"] is True
    assert unchanged["identity/accounts"]["recomputed"] is False
    assert unchanged["identity/accounts"]["unchanged_since_run"] == full["identity/accounts"]["run_id"]
