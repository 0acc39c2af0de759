"""The ``cdp`` command line: sample data, pipeline runs and summaries; each area's commands are a sub-app."""

import json
import time
from datetime import date
from pathlib import Path

import typer
from rich.table import Table

from orchestration.cli_audiences import audiences_app
from orchestration.cli_audit import audit_app
from orchestration.cli_common import console, fail
from orchestration.cli_identity import identity_app
from orchestration.cli_quality import quality_app
from orchestration.cli_sync import sync_app

app = typer.Typer(help="Open customer data platform pipeline.", no_args_is_help=True, add_completion=False)
app.add_typer(identity_app, name="identity")
app.add_typer(sync_app, name="sync")
app.add_typer(audiences_app, name="audiences")
app.add_typer(quality_app, name="quality")
app.add_typer(audit_app, name="audit")


@app.command()
def sample(
    customers: int = typer.Option(5000, min=10, help="People to generate."),
    seed: int = typer.Option(42, help="Random seed; the same seed gives identical files."),
    out: Path = typer.Option(Path("data/sample"), help="Folder to write the sources into."),
    as_of: str = typer.Option("", help="Last day of the generated history (YYYY-MM-DD; default today)."),
    force: bool = typer.Option(False, help="Regenerate even if the folder holds this exact sample."),
) -> None:
    """Generate a realistic B2B company's first-party data (CRM, events, email, leads, service, consent)."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from connectors.sample import SAMPLE_PHASES, generate

    try:
        as_of_date = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError:
        fail(f"--as-of must be a date like 2026-11-01, not '{as_of}'")
    manifest_path = out / "manifest.json"
    if manifest_path.exists() and not force:
        existing = json.loads(manifest_path.read_text(encoding="utf-8"))
        wanted = {"customers": customers, "seed": seed}
        if all(existing.get(k) == v for k, v in wanted.items()):
            console.print(
                f"{out} already holds the sample (customers={customers}, seed={seed}, as_of={existing.get('as_of')}); "
                "kept, so the CRM's synced fields survive. Use --force to regenerate."
            )
            return
    started = time.monotonic()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("sample", total=len(SAMPLE_PHASES))

        def advance(phase: str) -> None:
            bar.update(task, description=f"generating {phase}", completed=SAMPLE_PHASES.index(phase))

        manifest = generate(out, customers=customers, seed=seed, as_of=as_of_date, progress=advance)
    console.print(
        f"wrote {len(manifest.generated_files)} files to {out} in {time.monotonic() - started:.1f}s"
    )


@app.command()
def run(
    select: str = typer.Option("*", help="Dagster asset selection, e.g. 'raw_crm/contacts+' (default: all)."),
) -> None:
    """Materialize the pipeline in this process (runs are recorded in DAGSTER_HOME for the UI).

    Ctrl-C or SIGTERM stops it cleanly (exit 130 or 143); while another ``cdp run`` holds the
    warehouse it exits at once with status 75, and a run a killed process left behind is marked
    failed and its pool slots freed before this one starts.
    """
    import dagster as dg

    from orchestration.run_guard import BUSY_EXIT_CODE, RunInterrupted, WarehouseBusy, stopping_on_signals

    with stopping_on_signals():
        try:
            from orchestration.runner import run_pipeline, summary

            started = time.monotonic()
            try:
                result = run_pipeline(select)
            except dg.DagsterError as error:
                # Execution errors end up in the result; what raises is building the job, e.g. from
                # a selection string that does not parse or takes part of a multi-asset.
                detail = " ".join(str(error.__cause__ or error).split())
                fail(f"cannot build the run for --select '{select}': {detail}")
            console.print(
                f"\npipeline {'succeeded' if result.success else 'FAILED'} in {time.monotonic() - started:.1f}s\n"
            )
            _print_summary(summary(result))
        except WarehouseBusy as busy:
            console.print(f"[yellow]busy:[/yellow] {busy}")
            raise typer.Exit(code=BUSY_EXIT_CODE) from None
        except RunInterrupted as stopped:
            console.print(f"[yellow]cdp run {stopped}[/yellow]")
            raise typer.Exit(code=stopped.exit_code) from None
    if not result.success:
        raise typer.Exit(code=1)


@app.command("summary")
def show_summary() -> None:
    """Print what the last run left in the warehouse: rows per layer, identity accuracy, sync figures."""
    from orchestration.runner import summary

    _print_summary(summary(None))


def _provenance(data: dict, section: str) -> str:
    source = data.get("sources", {}).get(section)
    if source is None:
        return ""
    origin = f"run {source['run_id'][:8]} at {source['at']}" if source["run_id"] else "no recorded run"
    if not source["current"]:
        return f"  [yellow]STALE[/yellow] (from {origin}; {source['reason']})"
    # After a run, a current section is that run's; `cdp summary` says which run each one is from.
    return "" if data.get("run_id") else f"  ({origin})"


def _print_summary(data: dict) -> None:
    layers = Table(title="Rows per layer", show_lines=False)
    for column in ("schema", "table", "rows"):
        layers.add_column(column, justify="right" if column == "rows" else "left")
    for row in data["tables"]:
        layers.add_row(row["schema"], row["table"], f"{row['rows']:,}")
    console.print(layers)
    if data.get("identity"):
        ident = data["identity"]
        console.print(
            f"identity: {ident['records']:,} records → {ident['customers']:,} customers"
            + (
                f"; vs ground truth precision {ident['precision']:.4f}, recall {ident['recall']:.4f}, "
                f"F1 {ident['f1']:.4f} over {ident['true_pairs']:,} true pairs; "
                f"B-cubed precision {ident['bcubed_precision']:.4f}, recall {ident['bcubed_recall']:.4f}, "
                f"F1 {ident['bcubed_f1']:.4f}; over-merged {ident['over_merge_rate']:.2%} of customers, "
                f"split {ident['split_rate']:.2%} of persons"
                if "precision" in ident
                else ""
            )
            + _provenance(data, "identity")
        )
    labels = {
        "health": "health tiers",
        "account_health": "account health tiers",
        "lifecycle": "lifecycle",
        "alerts": "alerts",
        "audiences": "audiences",
    }
    for section, label in labels.items():
        if data.get(section):
            figures = ", ".join(f"{k} {v:,}" for k, v in data[section].items())
            console.print(f"{label}: {figures}{_provenance(data, section)}")
    if data.get("checks"):
        passed = sum(1 for c in data["checks"] if c["passed"])
        console.print(f"checks: {passed} passed, {len(data['checks']) - passed} failed")
        for check in data["checks"]:
            if not check["passed"]:
                console.print(f"  [red]FAILED[/red] {check['asset']}:{check['name']}")
    if data.get("sync"):
        figures = ", ".join(f"{k} {v}" for k, v in data["sync"].items())
        console.print(f"CRM sync: {figures}{_provenance(data, 'sync')}")
    if data.get("audit"):
        audit = data["audit"]
        state = (
            "intact"
            if audit["intact"]
            else f"[red]BROKEN at seq {audit['broken_seq']}[/red] (cdp audit verify)"
        )
        console.print(f"audit chain: {audit['records']:,} records, head {audit['head']}, {state}")
    console.print("\nwhere to look:")
    for label, value in data["paths"].items():
        console.print(f"  {label}: {value}")


@app.command("env")
def show_env() -> None:
    """List every environment variable the pipeline reads, with its default and current value (secrets masked)."""
    import os

    from connectors.secrets import masked
    from orchestration.settings import ENVIRONMENT

    table = Table(title="Environment")
    for column in ("variable", "default", "current", "meaning"):
        table.add_column(column)
    for name, (default, meaning) in ENVIRONMENT.items():
        table.add_row(name, default, masked(name, os.environ.get(name, "")), meaning)
    console.print(table)


def main() -> None:
    """Run the ``cdp`` command line; an unexpected error prints one line, its traceback goes to a file.

    Secrets from the environment are masked in both.
    """
    import sys
    import tempfile
    import traceback

    from connectors.secrets import redact

    try:
        app()
    except KeyboardInterrupt:
        # Ctrl-C before a command took over its signals (while the CLI is still starting).
        console.print("stopped by Ctrl-C")
        sys.exit(130)
    except Exception as error:
        report = Path(tempfile.gettempdir()) / "cdp-last-error.txt"
        report.write_text(redact("".join(traceback.format_exception(error))), encoding="utf-8")
        console.print(f"[red]error:[/red] {redact(f'{type(error).__name__}: {error}')}")
        console.print(f"(unexpected; the traceback, secrets masked, is in {report})")
        sys.exit(1)
