"""The steward report: offline HTML whose figures match the warehouse, and ``cdp quality report``."""

import re
from datetime import datetime, timedelta
from html.parser import HTMLParser

import duckdb
import pytest
from typer.testing import CliRunner

from connectors import warehouse
from expectations import _kpis, _report
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
    page = _report.write_report(filled, tmp_path / "reports" / "quality")
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
        r"<td>tickets_quality</td><td>raw_service\.tickets</td><td>(\w+)</td>.*?num\">(\d+)<", text
    )
    assert rules == [("expect_a", "7"), ("expect_b", "3")]
    assert "sla_breached" in text and "service/tickets.csv" in text
    assert "dropped_last_month" not in text, "only the latest run's drift is shown"


def test_report_without_check_results_says_so(kpi_warehouse, tmp_path):  # noqa: F811
    text = _report.write_report(kpi_warehouse, tmp_path).read_text(encoding="utf-8")
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
