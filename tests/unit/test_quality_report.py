"""The steward report: offline HTML pages whose figures match the warehouse, and ``cdp quality report``."""

import html
import re
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import duckdb
import pytest
from typer.testing import CliRunner

from connectors import warehouse
from expectations import (
    MAX_FAILING_KEYS,
    ExpectationOutcome,
    SuiteOutcome,
    SuiteSpec,
    _kpis,
    _report,
    _report_suites,
    record,
)
from orchestration.cli import app
from orchestration.cli_common import console
from tests.unit.test_quality_kpis import con as kpi_warehouse  # noqa: F401  (the hand-made warehouse)


class ResourceCollector(HTMLParser):
    """Collects every address a page would fetch (link href, script/img/iframe src) and the tags seen."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        attributes = dict(attrs)
        if tag == "link" and attributes.get("href"):
            self.fetched.append(attributes["href"])
        if tag in {"script", "img", "iframe", "source"} and attributes.get("src"):
            self.fetched.append(attributes["src"])
        if tag in {"image", "use"}:
            self.fetched.extend(v for k, v in attrs if k in {"href", "xlink:href"} and v)


def offline_problems(page: str) -> list[str]:
    """Addresses in the page that need the network (http, https or protocol-relative)."""
    parser = ResourceCollector()
    parser.feed(page)
    external = [a for a in parser.fetched if re.match(r"^(https?:)?//", a)]
    imports = re.findall(r"@import|url\(\s*['\"]?(?:https?:)?//", page)
    return external + imports


def seeded(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    con.execute("""
        CREATE SCHEMA quality;
        CREATE TABLE quality.check_results AS SELECT * FROM (VALUES
            ('old', TIMESTAMP '2026-11-01 09:00', 'tickets_quality', 'raw_service', 'tickets', 'expect_a', 'warning', false, false, 99, NULL, 10),
            ('r2', TIMESTAMP '2026-11-02 09:00', 'tickets_quality', 'raw_service', 'tickets', 'expect_a', 'warning', false, false, 7, NULL, 10),
            ('r2', TIMESTAMP '2026-11-02 09:00', 'tickets_quality', 'raw_service', 'tickets', 'expect_b', 'error', true, false, 3, NULL, 10),
            ('r2', TIMESTAMP '2026-11-02 09:00', 'tickets_quality', 'raw_service', 'tickets', 'expect_c', 'error', true, true, 0, NULL, 10)
        ) AS r(run_id, checked_at, suite, table_schema, table_name, expectation, severity, blocking, success,
               unexpected_count, observed, rows_validated);
    """)
    for run, column in (("run-0", "dropped_last_month"), ("run-24", "sla_breached")):
        drift = [
            {"source_file": "service/tickets.csv", "column": column, "change": "new", "detail": "ignored"}
        ]
        warehouse.append_schema_drift(con, run, "raw_service", "tickets", drift)
    for hours in (0, 24):
        frame = _kpis.compute_kpis(con, f"run-{hours}", reference=datetime(2026, 11, 2))
        frame["measured_at"] = frame["measured_at"] + timedelta(hours=hours)
        warehouse.append_rows(con, "quality", "kpi_history", frame)
        warehouse.replace_table(con, "quality", "kpis", frame)
    return con


@pytest.fixture
def filled(kpi_warehouse):  # noqa: F811
    return seeded(kpi_warehouse)


def test_report_is_offline_and_its_figures_match_the_warehouse(filled, tmp_path):
    page = _report.write_report(filled, tmp_path / "reports" / "quality").index
    text = page.read_text(encoding="utf-8")

    assert offline_problems(text) == []
    assert text.count("<svg") == len(_report.PLOT_FAMILIES) == 6, "one inline plot per KPI family"
    assert "<style>" in text and "<link" not in text and "<script" not in text

    open_rows = filled.execute(
        "SELECT count(*) FROM quarantine.raw_service__tickets WHERE released_at IS NULL"
    ).fetchall()[0][0]
    assert re.search(r'id="open-quarantine">(\d+)<', text).group(1) == str(open_rows) == "1"
    assert (
        "<tr><td>raw_service.tickets</td><td>invalid_email</td>"
        '<td class="num">1</td><td class="num">1</td></tr>' in text
    )
    # Latest checks only, largest failure first; the passing expectation and the older run are left out.
    rules = re.findall(
        r'<td><a href="suites/tickets_quality\.html">tickets_quality</a></td><td>raw_service\.tickets</td>'
        r'<td><a href="suites/tickets_quality\.html#failed-[0-9a-f]{12}">(\w+)</a></td>.*?num\">(\d+)<',
        text[text.index("<h2>Top failing rules") : text.index("<h2>Suites")],
    )
    assert rules == [("expect_a", "7"), ("expect_b", "3")]
    assert "sla_breached" in text and "service/tickets.csv" in text
    assert "dropped_last_month" not in text, "only the latest run's drift is shown"


def test_report_without_check_results_says_so(kpi_warehouse, tmp_path):  # noqa: F811
    text = _report.write_report(kpi_warehouse, tmp_path).index.read_text(encoding="utf-8")
    assert "quality.check_results is not in the warehouse yet" in text
    assert "No KPI history yet." in text and offline_problems(text) == []


def test_offline_check_catches_external_resources():
    page = '<link rel="stylesheet" href="https://cdn.example.org/a.css"><img src="//cdn.example.org/x.png">'
    assert offline_problems(page) == ["https://cdn.example.org/a.css", "//cdn.example.org/x.png"]


def test_cli_report_prints_the_summary_and_the_path(filled, tmp_path, monkeypatch):
    path = tmp_path / "warehouse.duckdb"
    filled.execute(f"ATTACH '{path}' AS target; COPY FROM DATABASE memory TO target; DETACH target")
    monkeypatch.setenv("CDP_WAREHOUSE_PATH", str(path))
    monkeypatch.setattr(console, "width", 250)
    result = CliRunner().invoke(app, ["quality", "report"])
    assert result.exit_code == 0, result.output
    assert "invalid_email" in result.output and "expect_a" in result.output
    assert "sla_breached" in result.output
    assert f"report not written yet ({tmp_path / 'reports' / 'quality' / 'index.html'})" in result.output
    kpis = filled.execute("SELECT count(*), count(*) FILTER (WHERE NOT passed) FROM quality.kpis").fetchall()[
        0
    ]
    assert f"KPIs: {kpis[0] - kpis[1]} on target, {kpis[1]} off target" in result.output


TICKETS = SuiteSpec("tickets_quality", ("raw_service", "tickets"), False, (), "tickets", key=("ticket_id",))
CONTACTS = SuiteSpec("contacts_quality", ("raw_crm", "contacts"), True, (), "contacts", key=("record_id",))
CAPPED = "expect_column_values_to_match_regex(email)"
VOLUME = "expect_table_row_count_to_stay_within_change_of_previous_run()"


@pytest.fixture
def checked(tmp_path):
    """A warehouse file whose check tables were written by ``record``: two runs of tickets, one of contacts."""
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        old = SuiteOutcome(
            "tickets_quality",
            False,
            9,
            [
                ExpectationOutcome(
                    "expect_column_values_to_be_unique(ticket_id)", False, 2, failing_keys=["t-1"]
                )
            ],
        )
        record(con, "run-1", TICKETS, old, datetime(2026, 11, 1, 9))
        capped_keys = [f"t-{i:04d}" for i in range(MAX_FAILING_KEYS)]
        latest = SuiteOutcome(
            "tickets_quality",
            False,
            1500,
            [
                ExpectationOutcome(
                    "expect_column_values_to_be_unique(ticket_id)",
                    False,
                    2,
                    failing_keys=["email:ann@example.com", "t-7"],
                ),
                ExpectationOutcome("expect_column_values_to_not_be_null(ticket_id)", True, 0),
                ExpectationOutcome(CAPPED, False, 1500, failing_keys=capped_keys),
                ExpectationOutcome(
                    VOLUME,
                    False,
                    observed="1500 rows; previous run 9 (+16566.7%, allowed ±50%)",
                ),
            ],
        )
        record(con, "run-2", TICKETS, latest, datetime(2026, 11, 2, 9))
        passing = SuiteOutcome(
            "contacts_quality",
            True,
            40,
            [ExpectationOutcome("expect_column_values_to_be_unique(record_id)", True, 0)],
        )
        record(con, "run-2", CONTACTS, passing, datetime(2026, 11, 2, 9, 5))
        yield con


def _keys(page: str, expectation: str) -> list[str]:
    section = page[page.index(f">{html.escape(expectation)}</h3>") :]
    return re.findall(r"<li>(.*?)</li>", section[: section.index("</ol>")])


def _broken_links(page: Path) -> list[str]:
    broken = []
    for target in re.findall(r'<a href="([^"]*)"', page.read_text(encoding="utf-8")):
        address, _, anchor = html.unescape(target).partition("#")
        resolved = (page.parent / unquote(address)).resolve() if address else page
        if not resolved.is_file() or (
            anchor and f'id="{anchor}"' not in resolved.read_text(encoding="utf-8")
        ):
            broken.append(target)
    return broken


def test_suite_pages_list_every_recorded_failing_key_and_match_check_results(checked, tmp_path):
    folder = tmp_path / "reports" / "quality"
    (folder / "suites").mkdir(parents=True)
    (folder / "suites" / "dropped_suite.html").write_text("old", encoding="utf-8")
    written = _report.write_report(checked, folder)

    assert [p.name for p in written.suite_pages] == ["tickets_quality.html", "contacts_quality.html"]
    assert not (folder / "suites" / "dropped_suite.html").exists(), "pages of suites no longer recorded go"
    page = (folder / "suites" / "tickets_quality.html").read_text(encoding="utf-8")
    for expectation in ("expect_column_values_to_be_unique(ticket_id)", CAPPED):
        recorded = checked.execute(
            "SELECT key_value FROM quality.check_failures WHERE run_id = 'run-2' AND suite = 'tickets_quality' "
            "AND expectation = ? ORDER BY key_value",
            [expectation],
        ).fetchall()
        assert [html.unescape(k) for k in _keys(page, expectation)] == [r[0] for r in recorded]
    assert _keys(page, "expect_column_values_to_be_unique(ticket_id)") == ["email:ann@example.com", "t-7"]
    assert len(_keys(page, CAPPED)) == 1000 and "<li>t-1</li>" not in page, "run-1's key is gone"
    assert (
        "1,000 failing key(s) recorded, by <code>ticket_id</code>, of 1,500 unexpected row(s): capped at 1,000"
        in page
    )
    assert "2 failing key(s) recorded, by <code>ticket_id</code>." in page, "not capped: no cap note"
    assert "No row keys recorded (a table-level expectation or an error)." in page

    results = checked.execute(
        "SELECT expectation, success, unexpected_count, rows_validated FROM quality.check_results "
        "WHERE run_id = 'run-2' AND suite = 'tickets_quality'"
    ).fetchall()
    for expectation, success, unexpected, _ in results:
        cells = re.search(
            rf">{re.escape(html.escape(expectation))}(?:</a>)?</td><td class=\"(\w+)\">\w+</td>"
            rf"<td(?: class=\"num\")?>([\d,]*)</td>",
            page,
        )
        assert cells, expectation
        assert cells.group(1) == ("pass" if success else "fail")
        assert cells.group(2) == ("" if unexpected is None else f"{unexpected:,}")
    assert re.search(r'id="rows-validated">([\d,]+)<', page).group(1) == f"{results[0][3]:,}" == "1,500"
    assert re.search(r'id="failed-count">(\d+)<', page).group(1) == str(sum(not r[1] for r in results)) == "3"
    assert 'Suite tickets_quality: <span class="fail">failed</span>' in page
    assert "warn (not blocking)" in page
    history = page[page.index("<h2>History (last 2 run(s))</h2>") :]
    assert history.index("<td>run-2</td>") < history.index("<td>run-1</td>"), "newest first"

    contacts = (folder / "suites" / "contacts_quality.html").read_text(encoding="utf-8")
    assert 'Suite contacts_quality: <span class="pass">passed</span>' in contacts
    assert "Every expectation held." in contacts and "error (blocking)" in contacts
    assert 'id="rows-validated">40<' in contacts

    index = written.index.read_text(encoding="utf-8")
    assert re.search(r'id="failed-suites">(\d+)<', index).group(1) == "1"
    suites = index[index.index("<h2>Suites") : index.index("<h2>Quarantine")]
    assert re.findall(r'<a href="(suites/\w+\.html)">', suites) == [
        "suites/tickets_quality.html",
        "suites/contacts_quality.html",
    ], "failed suites first"
    for written_page in [written.index, *written.suite_pages]:
        text = written_page.read_text(encoding="utf-8")
        assert offline_problems(text) == [] and "<script" not in text and "<style>" in text
        assert "may be personal data" in text
        assert _broken_links(written_page) == [], written_page.name
    assert len(re.findall(r'<a href="#failed-[0-9a-f]{12}">', page)) == 3, (
        "each failed expectation links to its keys"
    )
    top_rules = index[index.index("<h2>Top failing rules") : index.index("<h2>Suites")]
    assert re.findall(r'<a href="(suites/tickets_quality\.html#failed-[0-9a-f]{12})">', top_rules) == [
        f"suites/tickets_quality.html#{_report_suites.expectation_anchor(e)}"
        for e in (CAPPED, "expect_column_values_to_be_unique(ticket_id)", VOLUME)
    ], "top failing rules link to their keys, largest failure first"


def test_broken_link_check_catches_missing_pages_and_anchors(tmp_path):
    page = tmp_path / "index.html"
    page.write_text(
        '<a href="suites/none.html">x</a><a href="#nowhere">y</a><p id="here"></p><a href="#here">z</a>'
    )
    assert _broken_links(page) == ["suites/none.html", "#nowhere"]


def test_cli_report_lists_failed_suites_and_the_suite_pages(checked, tmp_path, monkeypatch):
    monkeypatch.setenv("CDP_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setattr(console, "width", 250)
    folder = tmp_path / "reports" / "quality"
    _report.write_report(checked, folder)
    checked.close()
    result = CliRunner().invoke(app, ["quality", "report"])
    assert result.exit_code == 0, result.output
    assert "Suites: 1 passed, 1 failed" in result.output
    assert str(folder / "suites" / "tickets_quality.html") in result.output
    assert "contacts_quality" not in result.output, "only failed suites are listed"
    assert f"suite pages (failing keys, history): {folder / 'suites'}" in result.output
    assert "ann@example.com" not in result.output, "failing key values stay in the pages"
