"""The data steward's quality report: offline HTML pages and the figures behind them.

The summary page (``index.html``) lists every suite's latest outcome and links each to its
validation page (``expectations._report_suites``). Everything a page needs is inside it (inline
CSS, plots as inline SVG drawn by matplotlib), so it opens from a file share with no network. The
summary shows counts, rules and column names, never row values; the suite pages list failing row
keys, which may be personal data.
"""

import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from connectors import warehouse
from expectations._report_suites import (
    CSS,
    PERSONAL_DATA_NOTE,
    html_table,
    latest_suites,
    suite_link,
    write_suite_pages,
)


@dataclass
class QualitySummary:
    """The figures the report and ``cdp quality report`` show.

    Attributes:
        quarantine: One row per source table and rule: ``source, rule, open_rows, released_rows``.
        failing_rules: One row per failed expectation of each suite's latest run: ``suite, table,
            expectation, severity, unexpected_count`` (empty when ``quality.check_results`` is missing).
        check_results_found: Whether ``quality.check_results`` exists.
        drift: Schema changes seen by the latest run: ``source, source_file, column, change, detail``.
        kpis: The latest KPIs (``quality.kpis``).
        history: Every KPI measurement (``quality.kpi_history``).
        suites: Each suite's latest run, failed first (see ``latest_suites``).
    """

    quarantine: pd.DataFrame
    failing_rules: pd.DataFrame
    check_results_found: bool
    drift: pd.DataFrame
    kpis: pd.DataFrame
    history: pd.DataFrame
    suites: pd.DataFrame


@dataclass
class WrittenReport:
    """Where ``write_report`` put the pages.

    Attributes:
        index: The summary page, ``index.html``.
        suite_pages: One validation page per suite, in ``suites/``.
    """

    index: Path
    suite_pages: list[Path]


def quarantine_counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Count quarantined rows by source table and rule, open and released.

    Args:
        con: Open warehouse connection.

    Returns:
        One row per source table and rule: ``source, rule, open_rows, released_rows``.
    """
    parts = []
    for schema, table in warehouse.quarantine_tables(con):
        name = warehouse.qualified("quarantine", f"{schema}__{table}")
        columns = {r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()}
        released = "released_at IS NOT NULL" if "released_at" in columns else "false"
        parts.append(
            con.execute(
                f"""
                SELECT '{schema}.{table}' AS source, rule,
                       count(*) FILTER (WHERE NOT ({released})) AS open_rows,
                       count(*) FILTER (WHERE {released}) AS released_rows
                FROM {name} GROUP BY rule
                """
            ).df()
        )
    if not parts:
        return pd.DataFrame(columns=["source", "rule", "open_rows", "released_rows"])
    frame = pd.concat(parts, ignore_index=True)
    return frame.sort_values(
        ["open_rows", "source", "rule"], ascending=[False, True, True], ignore_index=True
    )


def _failing_rules(con: duckdb.DuckDBPyConnection, limit: int) -> tuple[pd.DataFrame, bool]:
    if not warehouse.table_exists(con, "quality", "check_results"):
        return pd.DataFrame(), False
    frame = con.execute(
        f"""
        WITH latest AS (
            SELECT suite, arg_max(run_id, checked_at) AS run_id FROM quality.check_results GROUP BY suite
        )
        SELECT r.suite, r.table_schema || '.' || r.table_name AS "table", r.expectation, r.severity,
               r.unexpected_count
        FROM quality.check_results AS r JOIN latest USING (suite, run_id)
        WHERE NOT r.success
        ORDER BY r.unexpected_count DESC NULLS LAST, r.suite, r.expectation
        LIMIT {int(limit)}
        """
    ).df()
    return frame, True


def _latest_drift(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Schema drift of the run the latest KPIs belong to (else the newest run that recorded drift).

    Every load records the columns that differ, so the latest run's rows are the current state.
    """
    if not warehouse.table_exists(con, "quality", "schema_drift"):
        return pd.DataFrame(columns=["source", "source_file", "column", "change", "detail"])
    latest = "SELECT arg_max(run_id, detected_at) FROM quality.schema_drift"
    if warehouse.table_exists(con, "quality", "kpis"):
        latest = f"SELECT coalesce((SELECT max(run_id) FROM quality.kpis), ({latest}))"
    return con.execute(
        f"""
        SELECT source_schema || '.' || source_table AS source, source_file, "column", change, detail
        FROM quality.schema_drift
        WHERE run_id = ({latest})
        ORDER BY source, source_file, "column"
        """
    ).df()


def collect(con: duckdb.DuckDBPyConnection, top_rules: int = 10) -> QualitySummary:
    """Read every figure the steward report shows.

    Args:
        con: Open warehouse connection.
        top_rules: How many failing expectations to list.

    Returns:
        The summary; parts whose tables are missing are empty.
    """
    failing, found = _failing_rules(con, top_rules)
    empty = pd.DataFrame(columns=["layer", "table", "kpi", "value", "target", "passed", "measured_at"])
    kpis = (
        warehouse.read_table(con, "quality", "kpis")
        if warehouse.table_exists(con, "quality", "kpis")
        else empty
    )
    history = (
        warehouse.read_table(con, "quality", "kpi_history")
        if warehouse.table_exists(con, "quality", "kpi_history")
        else empty
    )
    return QualitySummary(
        quarantine_counts(con), failing, found, _latest_drift(con), kpis, history, latest_suites(con)
    )


def _svg_plot(history: pd.DataFrame, family: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    matplotlib.rcParams["svg.fonttype"] = "none"
    frame = history[history["kpi"].str.startswith(family)].copy()
    frame["series"] = frame["table"] + " " + frame["kpi"].str.removeprefix(family).str.strip("_")
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    try:
        for name, series in frame.sort_values("measured_at").groupby("series"):
            ax.plot(series["measured_at"], series["value"].astype(float), marker="o", label=name.strip())
        ax.set_title(family.replace("_", " "))
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        ax.tick_params(axis="y", labelsize=7)
        if frame["series"].nunique() <= 12:
            ax.legend(fontsize=6, loc="best")
        fig.tight_layout()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg")
    finally:
        plt.close(fig)
    text = buffer.getvalue()
    # From the <svg> element on, without the DTD line and the RDF metadata (both name web addresses).
    return re.sub(r"<metadata>.*?</metadata>", "", text[text.index("<svg") :], flags=re.S)


PLOT_FAMILIES = ("completeness", "validity", "uniqueness", "freshness_hours", "consistency", "carry_through")


def render_html(summary: QualitySummary) -> str:
    """Render the steward report page.

    Args:
        summary: The figures from ``collect``.

    Returns:
        A self-contained HTML document.
    """
    kpis = summary.kpis
    failed_kpis = kpis[~kpis["passed"].astype(bool)] if len(kpis) else kpis
    suite_links = {"suite": lambda row: suite_link(row["suite"])}
    rules = (
        html_table(
            summary.failing_rules,
            "No failed expectation in the latest checks.",
            {**suite_links, "expectation": lambda row: suite_link(row["suite"], row["expectation"])},
        )
        if summary.check_results_found
        else '<p class="note">quality.check_results is not in the warehouse yet: run the checks.</p>'
    )
    plots = "".join(
        f"<figure>{_svg_plot(summary.history, family)}</figure>"
        for family in PLOT_FAMILIES
        if len(summary.history) and summary.history["kpi"].str.startswith(family).any()
    )
    kpi_columns = ["layer", "table", "kpi", "value", "target", "passed"]
    suites = summary.suites
    suite_columns = ["suite", "table", "severity", "rows_validated", "expectations", "failed", "passed"]
    failed_suites = int((~suites["passed"].astype(bool)).sum()) if len(suites) else 0
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Data quality report</title>
<style>{CSS}</style></head><body>
<h1>Data quality report</h1>
<p class="note">Generated {generated}. Counts and rule names only on this page; quarantined values stay in
the warehouse (<code>cdp quality quarantine list --show-rows</code>); each suite's page lists its failing
row keys.</p>
<h2>Summary</h2>
<ul>
<li>open quarantined rows: <strong id="open-quarantine">{int(summary.quarantine["open_rows"].sum()) if len(summary.quarantine) else 0}</strong></li>
<li>KPIs off target: <strong>{len(failed_kpis)}</strong> of {len(kpis)}</li>
<li>schema changes in the latest run: <strong>{len(summary.drift)}</strong></li>
<li>suites failed: <strong id="failed-suites">{failed_suites}</strong> of {len(suites)}</li>
</ul>
<h2>Top failing rules</h2>
{rules}
<h2>Suites (latest run of each)</h2>
{html_table(suites[suite_columns] if len(suites) else suites, "No suite has run yet.", suite_links)}
<h2>Quarantine by source and rule</h2>
{html_table(summary.quarantine, "Nothing quarantined.")}
<h2>Schema drift (latest run)</h2>
{html_table(summary.drift, "No schema change.")}
<h2>KPIs off target</h2>
{html_table(failed_kpis[kpi_columns] if len(failed_kpis) else failed_kpis, "Every KPI is on target.")}
<h2>KPI trends</h2>
<div class="plots">{plots or '<p class="note">No KPI history yet.</p>'}</div>
<h2>All KPIs (latest run)</h2>
{html_table(kpis[kpi_columns] if len(kpis) else kpis, "No KPIs measured yet.")}
<footer class="note">{PERSONAL_DATA_NOTE}</footer>
</body></html>
"""


def write_report(con: duckdb.DuckDBPyConnection, out_dir: str | Path) -> WrittenReport:
    """Write the steward report into ``out_dir`` (created if missing): the summary and the suite pages.

    Args:
        con: Open warehouse connection.
        out_dir: The report folder, e.g. ``reports/quality`` next to the warehouse.

    Returns:
        The pages written.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    suite_pages = write_suite_pages(con, folder)
    page = folder / "index.html"
    page.write_text(render_html(collect(con)), encoding="utf-8")
    return WrittenReport(page, suite_pages)
