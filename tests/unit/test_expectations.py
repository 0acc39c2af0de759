"""The quality suites on small constructed tables: each kind of rule catches its kind of bad row."""

from datetime import date

import duckdb
import pandas as pd
import pytest

import expectations
from expectations import graph_health, suite, validate

AS_OF = date(2026, 11, 1)
REFERENCE_TABLES = {
    "raw_crm.accounts": pd.DataFrame({"account_id": [10, 11]}),
    "raw_crm.users": pd.DataFrame({"user_id": [1, 2]}),
}


@pytest.fixture
def con():
    with duckdb.connect() as connection:
        for name, frame in REFERENCE_TABLES.items():
            schema, _ = name.split(".")
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            connection.register("_frame", frame)
            connection.execute(f"CREATE TABLE {name} AS SELECT * FROM _frame")
            connection.unregister("_frame")
        yield connection


def contacts(**changes) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "contact_id": [1, 2, 3],
            "first_name": ["Ada", "Bo", "Cy"],
            "last_name": ["Lovelace", "Diddley", "Young"],
            "email": ["ada@example.com", "bo@example.org", "cy@example.net"],
            "phone": ["+44 20 7946 0958", "(212) 555-0100", None],
            "account_id": [10.0, 11.0, None],
            "owner_user_id": [1, 2, 1],
            "lifecycle_stage": ["lead", "customer", "mql"],
            "created_at": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"]),
            "updated_at": pd.to_datetime(["2026-10-20", "2026-10-25", "2026-10-30"]),
        }
    )
    for column, (row, value) in changes.items():
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        frame[column] = frame[column].infer_objects()
    return frame


def failed(outcome: expectations.SuiteOutcome) -> dict[str, expectations.ExpectationOutcome]:
    return {r.expectation: r for r in outcome.failed}


def test_clean_contacts_pass_every_rule(con):
    outcome = validate(contacts(), suite("crm_contacts_quality"), con=con, as_of=AS_OF, previous_rows=3)

    assert outcome.success, failed(outcome)
    assert outcome.rows == 3
    assert len(outcome.results) == 15


def test_a_malformed_email_fails_the_format_rule_and_names_its_row(con):
    outcome = validate(
        contacts(email=(1, "bo at example.org")), suite("crm_contacts_quality"), con=con, as_of=AS_OF
    )

    assert list(failed(outcome)) == ["expect_column_values_to_match_regex(email)"]
    bad = failed(outcome)["expect_column_values_to_match_regex(email)"]
    assert bad.unexpected_count == 1
    assert bad.failing_keys == ["2"]


def test_nps_of_11_fails_the_range_rule():
    answers = pd.DataFrame(
        {
            "response_id": ["r1", "r2"],
            "responded_at": pd.to_datetime(["2026-10-20", "2026-10-21"]),
            "email": ["a@example.com", "b@example.com"],
            "score": [10, 11],
            "_source_file": ["nps.csv", "nps.csv"],
            "_source_line": [2, 3],
            "_loaded_at": pd.to_datetime(["2026-11-01", "2026-11-01"]),
        }
    )

    outcome = validate(answers, suite("service_nps_responses_quality"), as_of=AS_OF)

    assert list(failed(outcome)) == ["expect_column_values_to_be_between(score)"]
    assert failed(outcome)["expect_column_values_to_be_between(score)"].failing_keys == ["r2"]


def test_an_orphan_account_id_fails_referential_integrity(con):
    outcome = validate(contacts(account_id=(2, 999.0)), suite("crm_contacts_quality"), con=con, as_of=AS_OF)

    name = "expect_column_values_to_exist_in(account_id->raw_crm.accounts.account_id)"
    assert list(failed(outcome)) == [name]
    assert failed(outcome)[name].unexpected_count == 1
    assert failed(outcome)[name].failing_keys == ["3"]


def test_a_missing_referenced_table_fails_instead_of_passing(con):
    con.execute("DROP TABLE raw_crm.users")

    outcome = validate(contacts(), suite("crm_contacts_quality"), con=con, as_of=AS_OF)

    name = "expect_column_values_to_exist_in(owner_user_id->raw_crm.users.user_id)"
    assert list(failed(outcome)) == [name]
    assert "raw_crm.users does not exist" in failed(outcome)[name].error


def test_an_incomparable_reference_fails_without_quoting_the_value(con):
    frame = contacts().astype({"owner_user_id": "str"})
    frame.loc[0, "owner_user_id"] = "ada@example.com"

    outcome = validate(frame, suite("crm_contacts_quality"), con=con, as_of=AS_OF)

    error = failed(outcome)["expect_column_values_to_exist_in(owner_user_id->raw_crm.users.user_id)"].error
    assert error == "owner_user_id cannot be compared with raw_crm.users.user_id (ConversionException)"


def test_a_volume_drop_beyond_the_tolerance_fails_and_a_small_change_passes(con):
    spec = suite("crm_contacts_quality")
    name = "expect_table_row_count_to_stay_within_change_of_previous_run()"

    dropped = validate(contacts(), spec, con=con, as_of=AS_OF, previous_rows=10, max_volume_change=0.5)
    steady = validate(contacts(), spec, con=con, as_of=AS_OF, previous_rows=4, max_volume_change=0.5)

    assert list(failed(dropped)) == [name]
    assert failed(dropped)[name].observed == "3 rows; previous run 10 (-70.0%, allowed ±50%)"
    assert steady.success


def test_stale_data_fails_freshness(con):
    spec = suite("crm_contacts_quality")  # newest updated_at must be within 14 days

    stale = validate(contacts(), spec, con=con, as_of=date(2026, 11, 14))
    fresh = validate(contacts(), spec, con=con, as_of=date(2026, 11, 13))

    assert list(failed(stale)) == ["expect_column_max_to_be_between(updated_at)"]
    assert fresh.success


def test_a_timestamp_in_the_future_or_before_2000_fails(con):
    outcome = validate(
        contacts(created_at=(0, pd.Timestamp("1970-01-01")), updated_at=(2, pd.Timestamp("2999-01-01"))),
        suite("crm_contacts_quality"),
        con=con,
        as_of=AS_OF,
    )

    assert failed(outcome)["expect_column_values_to_be_between(created_at)"].failing_keys == ["1"]
    assert failed(outcome)["expect_column_values_to_be_between(updated_at)"].failing_keys == ["3"]


def test_a_missing_column_and_a_wrong_type_fail_the_schema_rules(con):
    frame = contacts().drop(columns=["lifecycle_stage"]).astype({"owner_user_id": "str"})

    outcome = validate(frame, suite("crm_contacts_quality"), con=con, as_of=AS_OF)

    assert not failed(outcome)["expect_table_columns_to_match_set()"].success
    types = failed(outcome)["expect_column_types_to_match_schema()"]
    assert types.observed == "owner_user_id: str (expected integer)"


def test_a_duplicate_key_fails_uniqueness_and_lists_both_rows(con):
    outcome = validate(contacts(contact_id=(2, 1)), suite("crm_contacts_quality"), con=con, as_of=AS_OF)

    duplicate = failed(outcome)["expect_column_values_to_be_unique(contact_id)"]
    assert duplicate.unexpected_count == 2
    assert duplicate.failing_keys == ["1", "1"]


def test_suites_cover_every_raw_table_identity_output_and_mart():
    from orchestration.definitions import defs

    layers = {"raw_crm", "raw_marketing", "raw_service", "raw_consent", "raw_hubspot", "identity", "marts"}
    # The trained model is a JSON file under version control, not a warehouse table.
    not_tables = {("identity", "person_model")}
    expected = {
        tuple(key.path)
        for key in defs.resolve_asset_graph().get_all_asset_keys()
        if key.path[0] in layers and tuple(key.path) not in not_tables
    }
    assert {spec.table for spec in expectations.SUITES} == expected
    blocking = {spec.table for spec in expectations.SUITES if spec.blocking}
    assert blocking == {
        ("identity", t)
        for t in (
            "customer_clusters",
            "customer_links",
            "customer_id_history",
            "accounts",
            "customer_accounts",
        )
    } | {("marts", "dim_customers"), ("marts", "customer_health"), ("marts", "crm_contact_scores")}


def test_no_suite_checks_the_same_rule_on_the_same_column_twice():
    from expectations._validate import _gx_expectations

    for spec in expectations.SUITES:
        targets = [
            (kind, kwargs.get("column") or str(kwargs.get("column_list") or kwargs.get("column_A")))
            for kind, kwargs in _gx_expectations(spec, AS_OF)
        ]
        assert len(targets) == len(set(targets)), spec.name


def test_check_table_records_results_failures_and_reads_the_last_passing_volume(con):
    spec = suite("crm_contacts_quality")
    con.register("_frame", contacts(email=(1, "broken")))
    con.execute("CREATE TABLE raw_crm.contacts AS SELECT * FROM _frame")

    first = expectations.check_table(con, spec, run_id="run-1", as_of=AS_OF)
    con.execute("DELETE FROM raw_crm.contacts WHERE contact_id = 3")
    second = expectations.check_table(con, spec, run_id="run-2", as_of=AS_OF, max_volume_change=0.2)

    assert not first.success and not second.success
    assert expectations.previous_row_count(con, spec.name, "run-3") == 3
    results = con.execute(
        "SELECT * FROM quality.check_results WHERE run_id = 'run-2' AND NOT success ORDER BY expectation"
    ).df()
    assert list(results.columns) == [
        "run_id",
        "checked_at",
        "suite",
        "table_schema",
        "table_name",
        "expectation",
        "severity",
        "blocking",
        "success",
        "unexpected_count",
        "observed",
        "rows_validated",
    ]
    assert list(results["expectation"]) == [
        "expect_column_values_to_match_regex(email)",
        "expect_table_row_count_to_stay_within_change_of_previous_run()",
    ]
    assert set(results["severity"]) == {"warn"} and not results["blocking"].any()
    assert list(results["rows_validated"]) == [2, 2]
    failures = con.execute("SELECT * FROM quality.check_failures WHERE run_id = 'run-2'").fetchall()
    assert failures == [("run-2", spec.name, "expect_column_values_to_match_regex(email)", "contact_id", "2")]


def test_rerunning_a_check_in_the_same_run_replaces_its_rows(con):
    spec = suite("crm_contacts_quality")
    con.register("_frame", contacts())
    con.execute("CREATE TABLE raw_crm.contacts AS SELECT * FROM _frame")

    expectations.check_table(con, spec, run_id="run-1", as_of=AS_OF)
    expectations.check_table(con, spec, run_id="run-1", as_of=AS_OF)

    assert con.execute("SELECT count(*) FROM quality.check_results").fetchall()[0][0] == 15


def test_a_missing_table_fails_its_suite_and_is_recorded_with_the_reason(con):
    outcome = expectations.check_table(con, suite("dim_customers_quality"), run_id="run-1", as_of=AS_OF)

    assert not outcome.success and outcome.rows == 0
    recorded = con.execute(
        "SELECT expectation, severity, blocking, success, observed FROM quality.check_results"
    )
    assert recorded.fetchall() == [
        ("expect_table_to_exist()", "error", True, False, "error: marts.dim_customers does not exist")
    ]


def clusters(sizes: list[int]) -> pd.DataFrame:
    rows = [(f"r{c}_{i}", f"cus_{c}") for c, size in enumerate(sizes) for i in range(size)]
    return pd.DataFrame(rows, columns=["record_id", "customer_id"])


def test_identity_health_measures_the_graph_and_passes_on_the_first_run():
    health = graph_health(clusters([1, 1, 2, 4, 12]), previous_merge_rate=None)

    assert health.outcome.success
    assert (health.records, health.customers, health.merged_records, health.largest_cluster) == (
        20,
        5,
        18,
        12,
    )
    assert health.merge_rate == pytest.approx(0.75)
    assert health.share_merged == pytest.approx(0.9)
    assert health.size_distribution == {"1": 2, "2": 1, "3-5": 1, "6-10": 0, "11-20": 1, "21+": 0}


def test_identity_health_fails_when_the_merge_rate_jumps_past_the_limit():
    graph = clusters([1, 1, 2, 4, 12])  # merge rate 0.75

    jumped = graph_health(graph, previous_merge_rate=0.60, max_change=0.10)
    steady = graph_health(graph, previous_merge_rate=0.70, max_change=0.10)

    assert not jumped.outcome.success
    assert jumped.outcome.results[0].observed == "merge rate 0.750; previous 0.600 (+0.150, allowed ±0.100)"
    assert steady.outcome.success


def test_identity_health_compares_with_the_last_passing_run_and_records_history(con):
    con.execute("CREATE SCHEMA identity")
    con.register("_frame", clusters([2, 2]))
    con.execute("CREATE TABLE identity.customer_clusters AS SELECT * FROM _frame")
    expectations.check_identity_health(con, "run-1")  # merge rate 0.5
    con.execute("DELETE FROM identity.customer_clusters WHERE record_id = 'r0_1'")  # 3 records, 2 customers

    second = expectations.check_identity_health(con, "run-2", max_change=0.1)
    third = expectations.check_identity_health(con, "run-3", max_change=0.2)

    assert not second.outcome.success and second.previous_merge_rate == 0.5
    assert third.outcome.success and third.previous_merge_rate == 0.5
    history = con.execute(
        "SELECT run_id, passed FROM quality.identity_health_history ORDER BY run_id"
    ).fetchall()
    assert history == [("run-1", True), ("run-2", False), ("run-3", True)]
    recorded = con.execute(
        "SELECT suite, severity, blocking, success FROM quality.check_results WHERE run_id = 'run-2'"
    ).fetchall()
    assert recorded == [("identity_graph_health", "error", True, False)]


def test_the_tolerances_come_from_the_environment_and_refuse_negative_values(monkeypatch):
    from orchestration.settings import Settings

    monkeypatch.setenv("CDP_IDENTITY_MAX_MERGE_RATE_CHANGE", "0.05")
    monkeypatch.setenv("CDP_QUALITY_MAX_VOLUME_CHANGE", "0.3")
    settings = Settings.from_env()
    assert (settings.identity_max_merge_rate_change, settings.quality_max_volume_change) == (0.05, 0.3)

    monkeypatch.setenv("CDP_QUALITY_MAX_VOLUME_CHANGE", "-1")
    with pytest.raises(ValueError, match="CDP_QUALITY_MAX_VOLUME_CHANGE must be 0 or more"):
        Settings.from_env()
