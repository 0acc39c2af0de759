"""``cdp quality``: the quarantine (list, release) and the steward's quality report."""

import getpass
import os
from pathlib import Path

import duckdb
import pandas as pd
import typer
from rich.table import Table

from orchestration.cli_common import console, fail, write_csv_file

quality_app = typer.Typer(help="Data quality: quarantine, KPIs, steward report.", no_args_is_help=True)
quarantine_app = typer.Typer(
    help="Rows rejected by the row rules: list them, release them.", no_args_is_help=True
)
quality_app.add_typer(quarantine_app, name="quarantine")

# Row rules a steward may waive (``accept``); type, range and allowed-value rules protect the raw
# table's column types, so those rows need ``--fix``.
ACCEPTABLE_RULES = frozenset(
    {
        "invalid_email",
        "solved_before_created",
        "missing_subject",
        "unidentified_message",
        "track_without_event",
        "implausible_date",
    }
)


def _open(read_only: bool) -> duckdb.DuckDBPyConnection:
    from orchestration.settings import Settings

    path = Settings.from_env().warehouse_path
    if not path.exists():
        fail(f"no warehouse at {path}; run `cdp run` first (or set CDP_WAREHOUSE_PATH)")
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException:
        fail(f"the warehouse {path} is in use by a running pipeline; try again when it has finished")


def _resolve(con: duckdb.DuckDBPyConnection, text: str) -> tuple[str, str]:
    from connectors import warehouse
    from connectors.files import SOURCES

    tables = warehouse.quarantine_tables(con)
    names = {f"{s}.{t}": (s, t) for s, t in tables}
    names.update({t: (s, t) for s, t in tables if sum(1 for _, other in tables if other == t) == 1})
    names.update({src.name: (src.schema, src.table) for src in SOURCES if (src.schema, src.table) in tables})
    if text not in names:
        fail(f"no quarantine for source '{text}'; known: {', '.join(sorted(f'{s}.{t}' for s, t in tables))}")
    return names[text]


def _rows(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> pd.DataFrame:
    from connectors import warehouse

    frame = warehouse.read_table(con, "quarantine", f"{schema}__{table}")
    return frame.reindex(columns=warehouse.QUARANTINE_COLUMNS)


@quarantine_app.command("list")
def list_quarantine(
    source: str | None = typer.Option(None, help="Source table (raw_service.tickets) or file source name."),
    rule: str | None = typer.Option(None, help="Only this rule (e.g. invalid_email)."),
    show_rows: bool = typer.Option(
        False, "--show-rows", help="Also print the rows with their raw values (may be personal data)."
    ),
    released: bool = typer.Option(False, "--released", help="Include rows already released."),
    csv_file: Path | None = typer.Option(
        None,
        "--csv",
        help="Also write what is shown to this CSV file: the counts, or with --show-rows the rows "
        "(formulas in raw values neutralised).",
    ),
) -> None:
    """Count quarantined rows by source and rule; ``--show-rows`` prints the rows themselves."""
    from connectors import warehouse

    with _open(read_only=True) as con:
        tables = [_resolve(con, source)] if source else warehouse.quarantine_tables(con)
        frames = []
        for schema, table in tables:
            rows = _rows(con, schema, table)
            rows.insert(0, "source", f"{schema}.{table}")
            frames.append(rows)
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["source", "rule"])
    if rule:
        rows = rows[rows["rule"] == rule]
    if not released and "released_at" in rows:
        rows = rows[rows["released_at"].isna()]
    counts = rows.groupby(["source", "rule"], sort=True).size().reset_index(name="rows")
    table = Table(title="Quarantined rows" + (" (open and released)" if released else " (open)"))
    for column in ("source", "rule", "rows"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for src, rule_name, count in counts.itertuples(index=False):
        table.add_row(src, rule_name, f"{count:,}")
    console.print(table)
    console.print(f"{len(rows):,} row(s)")
    written = counts
    if show_rows:
        columns = [
            "source",
            "source_file",
            "source_line",
            "record_key",
            "field",
            "rule",
            "reason",
            "raw_value",
        ]
        if released:
            columns += ["release_action", "released_by"]
        written = rows.reindex(columns=columns)
        if len(rows):
            detail = Table(title="Rows (raw values may be personal data)")
            for column in columns:
                detail.add_column(column, overflow="fold")
            for row in written.itertuples(index=False):
                detail.add_row(*("" if pd.isna(v) else str(v) for v in row))
            console.print(detail)
    if csv_file is not None:
        write_csv_file(written, csv_file)


def _parse_fixes(fixes: list[str]) -> dict[str, str]:
    parsed = {}
    for item in fixes:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            fail(f"--fix takes FIELD=VALUE (e.g. --fix email=jane@example.com), not '{item}'")
        parsed[name.strip()] = value
    return parsed


@quarantine_app.command("release")
def release(
    source: str = typer.Option(..., help="Source table (raw_service.tickets) or file source name."),
    rule: str | None = typer.Option(None, help="Release every open row quarantined by this rule."),
    line: list[int] = typer.Option(
        [], "--line", help="Release the open row(s) at this file line (repeatable)."
    ),
    file: str | None = typer.Option(None, help="With --line: the file (relative to the landing folder)."),
    release_all: bool = typer.Option(False, "--all", help="Release every open row of the source."),
    fix: list[str] = typer.Option(
        [], "--fix", help="FIELD=VALUE to set before validating again (repeatable); without it: accept as is."
    ),
) -> None:
    """Release quarantined rows: the next run reads them again, fixed or accepted, and validates them.

    Each release appends one record to the audit log (``cdp audit log``).
    """
    import governance
    from connectors import warehouse
    from connectors.files import known_fields, source_for_table

    if sum([rule is not None, bool(line), release_all]) != 1:
        fail("choose exactly one of --rule, --line or --all")
    fixes = _parse_fixes(fix)
    with _open(read_only=False) as con:
        schema, table = _resolve(con, source)
        if schema == "raw_crm":
            fail("CRM rows cannot be released here: fix them in the CRM; the next run reads them again")
        rows = _rows(con, schema, table)
        rows = rows[rows["released_at"].isna()]
        if rule is not None:
            rows = rows[rows["rule"] == rule]
        if line:
            rows = rows[rows["source_line"].isin(line)]
        if file:
            rows = rows[rows["source_file"] == file]
        if rows.empty:
            fail(f"no open quarantined row of {schema}.{table} matches; see `cdp quality quarantine list`")
        if line and rows["source_file"].nunique() > 1:
            fail(
                f"line(s) {line} match rows in several files; add --file ({', '.join(rows['source_file'].unique())})"
            )
        whole_files = rows[rows["row_hash"].isna() | rows["source_line"].isna()]
        if len(whole_files):
            fail(
                f"{', '.join(sorted(whole_files['rule'].unique()))}: the whole file was rejected; "
                "fix the file and drop it again"
            )
        unknown = sorted(
            f for f in fixes if f.split(".")[0] not in known_fields(source_for_table(schema, table))
        )
        if unknown:
            fail(
                f"{', '.join(unknown)}: no such field in {schema}.{table}'s files; name a column of the file"
            )
        if fixes and (rows["rule"] == "unparseable").any():
            fail("unparseable lines have no fields to fix; correct the line in the file")
        if not fixes:
            refused = sorted(set(rows["rule"]) - ACCEPTABLE_RULES)
            if refused:
                fail(
                    f"rule(s) {', '.join(refused)} guard the raw table's column types and cannot be accepted "
                    "as is; release with --fix FIELD=VALUE"
                )
        action = "fix" if fixes else "accept"
        who = os.environ.get("USER") or getpass.getuser()
        count = warehouse.release_quarantined(con, schema, table, rows, action, fixes, who)
        # Row keys and fixed field names only: the fixed values and raw rows may be personal data.
        keys = sorted(
            [str(f), int(n), str(h)]
            for f, n, h in rows[["source_file", "source_line", "row_hash"]].itertuples(index=False)
        )
        governance.append(
            con,
            actor=who,
            action="quarantine.release",
            entity_type="table",
            entity_id=f"{schema}.{table}",
            before={"status": "open", "rows": keys},
            after={"status": "released", "action": action, "rows": keys},
            details={
                "rules": sorted(set(rows["rule"])),
                "rows": count,
                "action": action,
                "fixed_fields": sorted(fixes),
            },
        )
    console.print(
        f"released {count} row(s) of {schema}.{table} ({action}); the next `cdp run` reads them again"
        + (f" with {', '.join(sorted(fixes))} set" if fixes else "")
    )


@quality_app.command("report")
def report() -> None:
    """Print the quality summary (quarantine, suites, failing rules, drift, KPIs off target) and the report paths."""
    from expectations import _report, _report_suites
    from orchestration.settings import Settings

    folder = Settings.from_env().report_dir("quality")
    with _open(read_only=True) as con:
        summary = _report.collect(con)
    _print_frame("Quarantine by source and rule", summary.quarantine, "nothing quarantined")
    if summary.check_results_found:
        suites = summary.suites
        failed_suites = suites[~suites["passed"].astype(bool)]
        console.print(f"Suites: {len(suites) - len(failed_suites)} passed, {len(failed_suites)} failed")
        _print_frame(
            "Failed suites (latest run of each)",
            failed_suites[["suite", "table", "severity", "failed", "expectations"]].assign(
                page=[
                    str(folder / _report_suites.SUITES_DIR / _report_suites.suite_file(name))
                    for name in failed_suites["suite"]
                ]
            ),
            "none",
        )
        _print_frame("Top failing rules (latest checks)", summary.failing_rules, "no failed expectation")
    else:
        console.print("quality.check_results not found: the checks have not run yet")
    _print_frame("Schema drift (latest run)", summary.drift, "no schema change")
    kpis = summary.kpis
    failed = kpis[~kpis["passed"].astype(bool)] if len(kpis) else kpis
    console.print(f"KPIs: {len(kpis) - len(failed)} on target, {len(failed)} off target")
    _print_frame(
        "KPIs off target", failed[["table", "kpi", "value", "target"]] if len(failed) else failed, "none"
    )
    page = folder / "index.html"
    if page.exists():
        console.print(f"report: {page}")
        console.print(f"suite pages (failing keys, history): {folder / _report_suites.SUITES_DIR}")
    else:
        console.print(f"report not written yet ({page}); run `cdp run`")


def _print_frame(title: str, frame: pd.DataFrame, empty: str) -> None:
    if frame.empty:
        console.print(f"{title}: {empty}")
        return
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(
            str(column), justify="right" if pd.api.types.is_numeric_dtype(frame[column]) else "left"
        )
    for row in frame.itertuples(index=False):
        table.add_row(*("" if pd.isna(v) else f"{v:,.4g}" if isinstance(v, float) else str(v) for v in row))
    console.print(table)
