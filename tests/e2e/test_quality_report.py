"""Quality after a full run: injected bad rows quarantined, good rows through to the marts, KPIs, report."""

import csv
import html
import json
import re
from datetime import UTC, datetime

import pandas as pd
import pytest

from tests.unit.test_quality_report import offline_problems

RULE_OF_REASON = {
    "invalid JSON": "unparseable",
    "missing timestamp": "missing_value",
    "wrong type": "literal_error",
    "outside 0-10": "less_than_equal",
    "is not a number": "int_parsing",
    "created_at is empty": "missing_value",
    "bad date": None,  # several parse errors, by how the date is broken
}


@pytest.fixture(scope="module")
def injected(env) -> pd.DataFrame:
    manifest = json.loads((env["landing"] / "manifest.json").read_text(encoding="utf-8"))
    frame = pd.DataFrame(manifest["injected_malformed"])
    assert len(frame) >= 15, "the sample injects bad rows into events, tickets and NPS"
    return frame


def test_every_injected_bad_row_is_quarantined_with_its_file_line_and_rule(wh, injected):
    quarantined = pd.concat(
        [
            wh(f"SELECT source_file, source_line, rule, reason FROM quarantine.{name}")
            for name in ("raw_marketing__events", "raw_service__tickets", "raw_service__nps_responses")
        ],
        ignore_index=True,
    )
    assert len(quarantined) == len(injected)
    merged = injected.merge(
        quarantined, left_on=["file", "line"], right_on=["source_file", "source_line"], how="left"
    )
    assert merged["rule"].notna().all(), merged[merged["rule"].isna()][["file", "line"]]
    for row in merged.itertuples():
        expected = next(rule for text, rule in RULE_OF_REASON.items() if text in row.reason_x)
        if expected:
            assert row.rule == expected, (row.file, row.line, row.reason_x, row.rule)
        else:
            assert "datetime" in row.rule, (row.file, row.line, row.rule)


def test_good_rows_of_the_same_files_reach_raw_and_the_marts(env, wh, injected):
    tickets = env["landing"] / "service" / "tickets.csv"
    with tickets.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    bad_lines = set(injected[injected["file"] == "service/tickets.csv"]["line"])
    loaded = wh("SELECT _source_line FROM raw_service.tickets WHERE _source_file = 'service/tickets.csv'")
    assert len(loaded) == len(rows) - len(bad_lines)
    assert not bad_lines & set(loaded["_source_line"])

    # A good requester from the same file as the broken rows ends up as a customer in the mart.
    person = wh(
        """
        SELECT d.customer_id, d.sources
        FROM raw_service.tickets AS t
        JOIN identity.customer_clusters AS c ON c.record_id = 'tickets:' || t.ticket_id
        JOIN marts.dim_customers AS d USING (customer_id)
        WHERE t._source_line = 2
        """
    )
    assert len(person) == 1 and "tickets" in list(person["sources"][0])


def test_kpis_are_recorded_for_the_run(wh, first_run):
    kpis = wh("SELECT * FROM quality.kpis")
    history = wh("SELECT * FROM quality.kpi_history WHERE run_id = (SELECT max(run_id) FROM quality.kpis)")
    assert len(kpis) == len(history) >= 60
    assert set(kpis["layer"]) == {"raw", "intermediate", "identity", "marts"}
    carry = kpis[kpis["kpi"] == "carry_through_utm_campaign"].iloc[0]
    assert carry["value"] >= 0.999 and carry["passed"]
    validity = kpis[(kpis["table"] == "raw_service.tickets") & (kpis["kpi"] == "validity")].iloc[0]
    loaded = wh("SELECT count(*) AS n FROM raw_service.tickets")["n"][0]
    assert validity["value"] == pytest.approx(loaded / (loaded + 5))
    assert wh("SELECT count(*) AS n FROM quality.schema_drift")["n"][0] == 0, "the sample has no drift"


def test_steward_report_is_offline_and_matches_the_warehouse(env, wh):
    page = env["root"] / "reports" / "quality" / "index.html"
    text = page.read_text(encoding="utf-8")
    assert offline_problems(text) == []
    assert text.count("<svg") == 6

    counts = pd.concat(
        [
            wh(
                f"SELECT '{t.split('__')[0]}.{t.split('__')[1]}' AS source, rule, count(*) AS n FROM quarantine.{t} GROUP BY rule"
            )
            for t in wh("SELECT table_name FROM information_schema.tables WHERE table_schema = 'quarantine'")[
                "table_name"
            ]
        ]
    )
    assert re.search(r'id="open-quarantine">(\d+)<', text).group(1) == str(counts["n"].sum())
    for row in counts.itertuples():
        assert f'<tr><td>{row.source}</td><td>{row.rule}</td><td class="num">{row.n}</td>' in text

    # The checks that had run when the report was written (the report runs after the marts' checks).
    written = datetime.fromtimestamp(page.stat().st_mtime, UTC).replace(tzinfo=None)
    failing = wh(
        f"""
        WITH seen AS (SELECT * FROM quality.check_results WHERE checked_at <= TIMESTAMP '{written}'),
        latest AS (SELECT suite, arg_max(run_id, checked_at) AS run_id FROM seen GROUP BY suite)
        SELECT suite, expectation, unexpected_count FROM seen JOIN latest USING (suite, run_id)
        WHERE NOT success ORDER BY unexpected_count DESC NULLS LAST, suite, expectation LIMIT 10
        """
    )
    if failing.empty:
        assert "No failed expectation in the latest checks." in text
    for row in failing.itertuples():
        count = "" if pd.isna(row.unexpected_count) else f"{int(row.unexpected_count):,}"
        suite = re.escape(f'<a href="suites/{row.suite}.html">{row.suite}</a></td>')
        assert re.search(
            rf"{suite}.*?>{re.escape(html.escape(row.expectation))}</a></td>.*?>{count}<", text
        ), row


def test_every_suite_page_matches_its_latest_run(env, wh):
    folder = env["root"] / "reports" / "quality"
    index = folder / "index.html"
    written = datetime.fromtimestamp(index.stat().st_mtime, UTC).replace(tzinfo=None)
    suites = wh(
        f"""
        SELECT suite, arg_max(run_id, checked_at) AS run_id FROM quality.check_results
        WHERE checked_at <= TIMESTAMP '{written}' GROUP BY suite
        """
    )
    assert len(suites) >= 40, "every raw, identity and mart suite had run before the report"
    pages = sorted(p.stem for p in (folder / "suites").glob("*.html"))
    assert pages == sorted(suites["suite"])
    for row in suites.itertuples():
        page = folder / "suites" / f"{row.suite}.html"
        text = page.read_text(encoding="utf-8")
        assert offline_problems(text) == [] and "<script" not in text, row.suite
        assert f"run <code>{row.run_id}</code>" in text, row.suite
        failed = wh(
            f"SELECT count(*) AS n FROM quality.check_results WHERE suite = '{row.suite}' "
            f"AND run_id = '{row.run_id}' AND NOT success"
        )["n"][0]
        assert re.search(r'id="failed-count">(\d+)<', text).group(1) == str(failed), row.suite
        keys = wh(
            f"SELECT key_value FROM quality.check_failures WHERE suite = '{row.suite}' "
            f"AND run_id = '{row.run_id}' ORDER BY expectation, key_value"
        )["key_value"]
        shown = [
            html.unescape(k) for k in re.findall(r"<li>(.*?)</li>", text.split("<h2>Failing keys</h2>")[1])
        ]
        assert sorted(shown) == sorted(keys), row.suite
        assert f'href="suites/{row.suite}.html"' in index.read_text(encoding="utf-8"), row.suite
