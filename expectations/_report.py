"""The data steward's quality report: an offline HTML page and the figures behind it.

Everything the page needs is inside it (inline CSS, plots as inline SVG drawn by matplotlib), so it
opens from a file share with no network. Values shown are counts, rules and column names, never
row values (those may be personal data).
"""

import html
import io
import numbers
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from connectors import warehouse

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1f2933; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #cbd2d9; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f0f4f8; } td.num { text-align: right; }
.fail { color: #b42318; font-weight: 600; } .pass { color: #027a48; }
.note { color: #52606d; font-size: 0.85rem; }
.plots { display: flex; flex-wrap: wrap; gap: 1rem; }
"""


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
    """

    quarantine: pd.DataFrame
    failing_rules: pd.DataFrame
    check_results_found: bool
    drift: pd.DataFrame
    kpis: pd.DataFrame
    history: pd.DataFrame


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
    return QualitySummary(quarantine_counts(con), failing, found, _latest_drift(con), kpis, history)


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


def _table(frame: pd.DataFrame, empty: str) -> str:
    if frame.empty:
        return f'<p class="note">{html.escape(empty)}</p>'
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            if isinstance(value, bool | np.bool_):
                cells.append(f'<td class="{"pass" if value else "fail"}">{"yes" if value else "no"}</td>')
            elif isinstance(value, numbers.Integral):
                cells.append(f'<td class="num">{value:,}</td>')
            elif isinstance(value, float) and not pd.isna(value):
                cells.append(f'<td class="num">{value:,.4f}</td>')
            else:
                cells.append(f"<td>{'' if pd.isna(value) else html.escape(str(value))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


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
    rules = (
        _table(summary.failing_rules, "No failed expectation in the latest checks.")
        if summary.check_results_found
        else '<p class="note">quality.check_results is not in the warehouse yet: run the checks.</p>'
    )
    plots = "".join(
        f"<figure>{_svg_plot(summary.history, family)}</figure>"
        for family in PLOT_FAMILIES
        if len(summary.history) and summary.history["kpi"].str.startswith(family).any()
    )
    kpi_columns = ["layer", "table", "kpi", "value", "target", "passed"]
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Data quality report</title>
<style>{_CSS}</style></head><body>
<h1>Data quality report</h1>
<p class="note">Generated {generated}. Counts and rule names only; quarantined values stay in the warehouse
(<code>cdp quality quarantine list --show-rows</code>).</p>
<h2>Summary</h2>
<ul>
<li>open quarantined rows: <strong id="open-quarantine">{int(summary.quarantine["open_rows"].sum()) if len(summary.quarantine) else 0}</strong></li>
<li>KPIs off target: <strong>{len(failed_kpis)}</strong> of {len(kpis)}</li>
<li>schema changes in the latest run: <strong>{len(summary.drift)}</strong></li>
</ul>
<h2>Top failing rules</h2>
{rules}
<h2>Quarantine by source and rule</h2>
{_table(summary.quarantine, "Nothing quarantined.")}
<h2>Schema drift (latest run)</h2>
{_table(summary.drift, "No schema change.")}
<h2>KPIs off target</h2>
{_table(failed_kpis[kpi_columns] if len(failed_kpis) else failed_kpis, "Every KPI is on target.")}
<h2>KPI trends</h2>
<div class="plots">{plots or '<p class="note">No KPI history yet.</p>'}</div>
<h2>All KPIs (latest run)</h2>
{_table(kpis[kpi_columns] if len(kpis) else kpis, "No KPIs measured yet.")}
</body></html>
"""


def write_report(con: duckdb.DuckDBPyConnection, out_dir: str | Path) -> Path:
    """Write the steward report into ``out_dir`` (created if missing).

    Args:
        con: Open warehouse connection.
        out_dir: The report folder, e.g. ``reports/quality`` next to the warehouse.

    Returns:
        The path of ``index.html``.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / "index.html"
    page.write_text(render_html(collect(con)), encoding="utf-8")
    return page
