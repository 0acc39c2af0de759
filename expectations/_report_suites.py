"""The steward report's validation pages: one offline page per suite, for its latest run.

Like GX's Data Docs, a page shows every expectation of the suite's latest run with its outcome,
unexpected count and observed value; unlike them it lists every failing row key recorded in
``quality.check_failures`` (not a sample of values) and the suite's recent history, and it needs
no network (inline CSS, no scripts). Failing keys identify rows and may be personal data (record
ids such as ``email:<address>``): the pages stay next to the warehouse and nothing here logs them.
This module also holds the page style and table renderer the summary page shares.
"""

import hashlib
import html
import numbers
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import duckdb
import numpy as np
import pandas as pd

from connectors import warehouse
from expectations._validate import MAX_FAILING_KEYS

CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1f2933; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; } h3 { font-size: 1rem; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #cbd2d9; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f0f4f8; } td.num { text-align: right; }
.fail { color: #b42318; font-weight: 600; } .pass { color: #027a48; }
.note { color: #52606d; font-size: 0.85rem; }
.plots { display: flex; flex-wrap: wrap; gap: 1rem; }
ol.keys { column-width: 16rem; font-family: ui-monospace, monospace; font-size: 0.8rem; }
footer { margin-top: 3rem; border-top: 1px solid #cbd2d9; padding-top: 0.5rem; }
"""
SUITES_DIR = "suites"
DEFAULT_HISTORY_RUNS = 20
PERSONAL_DATA_NOTE = (
    "Failing keys identify rows and may be personal data (record ids such as "
    "<code>email:&lt;address&gt;</code>): this report stays next to the warehouse, like the identity "
    "dashboards; do not forward or publish it."
)


def html_table(
    frame: pd.DataFrame, empty: str, links: dict[str, Callable[[dict], str | None]] | None = None
) -> str:
    """Render a DataFrame as an HTML table (escaped; booleans as yes/no, numbers right-aligned).

    Args:
        frame: The rows to show.
        empty: The note shown instead when ``frame`` has no rows.
        links: Column → function of the row (column → value) giving the address that column's
            cell links to (or None).

    Returns:
        The table (or the note) as HTML.
    """
    if frame.empty:
        return f'<p class="note">{html.escape(empty)}</p>'
    links = links or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        values = dict(zip(frame.columns, row, strict=True))
        cells = []
        for column, value in values.items():
            if isinstance(value, bool | np.bool_):
                cells.append(f'<td class="{"pass" if value else "fail"}">{"yes" if value else "no"}</td>')
            elif isinstance(value, numbers.Integral):
                cells.append(f'<td class="num">{value:,}</td>')
            elif isinstance(value, float) and not pd.isna(value):
                cells.append(f'<td class="num">{value:,.4f}</td>')
            else:
                text = "" if pd.isna(value) else html.escape(str(value))
                target = links[column](values) if column in links and text else None
                if target:
                    text = f'<a href="{html.escape(target)}">{text}</a>'
                cells.append(f"<td>{text}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def suite_file(suite: str) -> str:
    """Return the file name of a suite's page (the name, with anything but ``[A-Za-z0-9_.-]`` as ``_``)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", suite) + ".html"


def expectation_anchor(expectation: str) -> str:
    """Return the id of a failed expectation's keys on its suite page (stable across runs)."""
    return "failed-" + hashlib.sha1(expectation.encode(), usedforsecurity=False).hexdigest()[:12]


def suite_link(suite: str, expectation: str | None = None) -> str:
    """Return the address of a suite's page (or of a failed expectation's keys on it) from the summary page."""
    address = f"{SUITES_DIR}/{quote(suite_file(suite))}"
    return f"{address}#{expectation_anchor(expectation)}" if expectation else address


_LATEST = """
    latest AS (SELECT suite, arg_max(run_id, checked_at) AS run_id FROM quality.check_results GROUP BY suite)
"""


def latest_suites(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Summarise each suite's latest run (failed suites first).

    Args:
        con: Open warehouse connection.

    Returns:
        One row per suite: ``suite, table, severity, blocking, rows_validated, expectations, failed,
        passed, checked_at, run_id``; empty when ``quality.check_results`` is missing.
    """
    columns = ["suite", "table", "severity", "blocking", "rows_validated", "expectations", "failed"]
    columns += ["passed", "checked_at", "run_id"]
    if not warehouse.table_exists(con, "quality", "check_results"):
        return pd.DataFrame(columns=columns)
    return con.execute(
        f"""
        WITH {_LATEST}
        SELECT r.suite, any_value(r.table_schema || '.' || r.table_name) AS "table",
               any_value(r.severity) AS severity, bool_or(r.blocking) AS blocking,
               max(r.rows_validated) AS rows_validated, count(*) AS expectations,
               count(*) FILTER (WHERE NOT r.success) AS failed,
               count(*) FILTER (WHERE NOT r.success) = 0 AS passed,
               max(r.checked_at) AS checked_at, r.run_id
        FROM quality.check_results AS r JOIN latest USING (suite, run_id)
        GROUP BY r.suite, r.run_id
        ORDER BY passed, r.suite
        """
    ).df()[columns]


def _latest_results(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        f"""
        WITH {_LATEST}
        SELECT r.suite, r.expectation, r.success, r.unexpected_count, r.observed
        FROM quality.check_results AS r JOIN latest USING (suite, run_id)
        ORDER BY r.suite, r.success, r.expectation
        """
    ).df()


def _latest_failures(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    if not warehouse.table_exists(con, "quality", "check_failures"):
        return pd.DataFrame(columns=["suite", "expectation", "key_column", "key_value"])
    return con.execute(
        f"""
        WITH {_LATEST}
        SELECT f.suite, f.expectation, f.key_column, f.key_value
        FROM quality.check_failures AS f JOIN latest USING (suite, run_id)
        ORDER BY f.suite, f.expectation, f.key_value
        """
    ).df()


def _history(con: duckdb.DuckDBPyConnection, runs: int) -> pd.DataFrame:
    return con.execute(
        """
        WITH runs AS (
            SELECT suite, run_id, max(checked_at) AS checked_at, max(rows_validated) AS rows_validated,
                   count(*) AS expectations, count(*) FILTER (WHERE NOT success) AS failed,
                   count(*) FILTER (WHERE NOT success) = 0 AS passed,
                   string_agg(expectation, ', ' ORDER BY expectation) FILTER (WHERE NOT success)
                       AS failed_expectations
            FROM quality.check_results GROUP BY suite, run_id
        )
        SELECT * FROM runs
        QUALIFY row_number() OVER (PARTITION BY suite ORDER BY checked_at DESC, run_id DESC) <= ?
        ORDER BY suite, checked_at DESC, run_id DESC
        """,
        [runs],
    ).df()


def _keys_section(anchor: str, expectation: str, keys: pd.DataFrame, unexpected: object) -> str:
    title = f'<h3 id="{anchor}">{html.escape(expectation)}</h3>'
    if keys.empty:
        return f'{title}<p class="note">No row keys recorded (a table-level expectation or an error).</p>'
    count = len(keys)
    key_columns = ", ".join(sorted(set(keys["key_column"])))
    note = f"{count:,} failing key(s) recorded, by <code>{html.escape(key_columns)}</code>"
    if not pd.isna(unexpected) and int(unexpected) > count:
        note += f", of {int(unexpected):,} unexpected row(s)"
        if count >= MAX_FAILING_KEYS:
            note += f": capped at {MAX_FAILING_KEYS:,} keys per expectation"
    items = "".join(f"<li>{html.escape(str(v))}</li>" for v in keys["key_value"])
    return f'{title}<p class="note">{note}.</p><details open><summary>keys</summary><ol class="keys">{items}</ol></details>'


def render_suite_page(
    suite: pd.Series, results: pd.DataFrame, failures: pd.DataFrame, history: pd.DataFrame
) -> str:
    """Render one suite's validation page.

    Args:
        suite: The suite's row of ``latest_suites``.
        results: Its latest run's rows of ``quality.check_results`` (``expectation, success,
            unexpected_count, observed``).
        failures: Its latest run's rows of ``quality.check_failures`` (``expectation, key_column,
            key_value``).
        history: Its recent runs, newest first (``checked_at, run_id, rows_validated, expectations,
            failed, passed, failed_expectations``).

    Returns:
        A self-contained HTML document.
    """
    failed = results[~results["success"].astype(bool)]
    anchors = {name: expectation_anchor(name) for name in dict.fromkeys(failed["expectation"])}
    keys = failures.groupby("expectation")["key_value"].size()
    table = results[["expectation", "success", "unexpected_count", "observed"]].rename(
        columns={"success": "passed"}
    )
    table = table.assign(failing_keys=[int(keys.get(e, 0)) for e in results["expectation"]])
    sections = "".join(
        _keys_section(
            anchor,
            name,
            failures[failures["expectation"] == name],
            failed.loc[failed["expectation"] == name, "unexpected_count"].max(),
        )
        for name, anchor in anchors.items()
    )
    name = html.escape(str(suite["suite"]))
    status = '<span class="pass">passed</span>' if suite["passed"] else '<span class="fail">failed</span>'
    history_columns = ["checked_at", "run_id", "rows_validated", "expectations", "failed", "passed"]

    def to_keys(row: dict) -> str | None:
        return f"#{anchors[row['expectation']]}" if row["expectation"] in anchors else None

    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Suite {name}</title>
<style>{CSS}</style></head><body>
<p class="note"><a href="../index.html">Data quality report</a> › suite</p>
<h1>Suite {name}: {status}</h1>
<ul>
<li>table: <code>{html.escape(str(suite["table"]))}</code></li>
<li>severity: {html.escape(str(suite["severity"]))} ({"blocking" if suite["blocking"] else "not blocking"})</li>
<li>run <code>{html.escape(str(suite["run_id"]))}</code>, checked {html.escape(str(suite["checked_at"]))}</li>
<li>rows validated: <strong id="rows-validated">{int(suite["rows_validated"]):,}</strong></li>
<li>expectations failed: <strong id="failed-count">{int(suite["failed"])}</strong> of {int(suite["expectations"])}</li>
</ul>
<h2>Expectations (latest run)</h2>
{html_table(table, "No expectation recorded.", {"expectation": to_keys})}
<h2>Failing keys</h2>
{sections or '<p class="note">Every expectation held.</p>'}
<h2>History (last {len(history)} run(s))</h2>
{html_table(history[[*history_columns, "failed_expectations"]], "No run recorded.")}
<footer class="note">{PERSONAL_DATA_NOTE}</footer>
</body></html>
"""


def write_suite_pages(
    con: duckdb.DuckDBPyConnection, out_dir: str | Path, history_runs: int = DEFAULT_HISTORY_RUNS
) -> list[Path]:
    """Write one page per suite into ``out_dir/suites`` (pages of suites no longer recorded are removed).

    Args:
        con: Open warehouse connection.
        out_dir: The report folder (the summary page's).
        history_runs: How many of each suite's latest runs its history shows.

    Returns:
        The pages written, in ``latest_suites`` order (none when ``quality.check_results`` is missing).
    """
    folder = Path(out_dir) / SUITES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    suites = latest_suites(con)
    pages = []
    if len(suites):
        results, failures, history = _latest_results(con), _latest_failures(con), _history(con, history_runs)
        for _, suite in suites.iterrows():
            name = suite["suite"]
            page = folder / suite_file(name)
            page.write_text(
                render_suite_page(
                    suite,
                    results[results["suite"] == name],
                    failures[failures["suite"] == name],
                    history[history["suite"] == name],
                ),
                encoding="utf-8",
            )
            pages.append(page)
    for stale in set(folder.glob("*.html")) - set(pages):
        stale.unlink()
    return pages
