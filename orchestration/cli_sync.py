"""``cdp sync``: plan (dry run), run and inspect the reverse sync to the SQL CRM or HubSpot."""

from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import typer
from rich.table import Table

from orchestration.cli_common import console, fail, write_csv_file

sync_app = typer.Typer(
    help="Reverse sync to the CRM: dry-run plans, runs, dead letters.", no_args_is_help=True
)


class Target(StrEnum):
    """Where ``cdp sync`` writes."""

    crm = "crm"
    hubspot = "hubspot"


_TARGET = typer.Option(
    Target.crm, "--to", help="crm (the SQL CRM of CDP_CRM_URL) or hubspot (CDP_HUBSPOT_TOKEN)."
)
_MODE = typer.Option(None, help="Override CDP_SYNC_WRITE_MODE: upsert, update_only, create_only or mirror.")
_SHARE = typer.Option(
    None, min=0.0, max=1.0, help="Override CDP_SYNC_MAX_CHANGE_SHARE (1 turns the breaker off)."
)


def _hold_warehouse(stack: ExitStack, path: Path) -> None:
    """Hold the warehouse as ``cdp run`` does, or exit 75 at once while another process holds it."""
    from orchestration.run_guard import BUSY_EXIT_CODE, WarehouseBusy, warehouse_lock

    try:
        stack.enter_context(warehouse_lock(path, holder="cdp sync"))
    except WarehouseBusy as busy:
        console.print(f"[yellow]busy:[/yellow] {busy}")
        raise typer.Exit(code=BUSY_EXIT_CODE) from None


def _sync(target: Target, dry_run: bool, mode: str | None, max_change_share: float | None):
    from connectors import warehouse
    from connectors.sync import MODES, CircuitBreakerOpen, SyncError, sync_sql_crm
    from orchestration.assets.activation import record_run
    from orchestration.settings import Settings

    try:
        settings = Settings.from_env()
    except ValueError as exc:
        fail(str(exc))
    if mode is not None and mode not in MODES:
        fail(f"--mode must be one of {', '.join(MODES)}, not '{mode}'")
    policy = replace(settings.sync_policy(), dry_run=dry_run or settings.sync_dry_run)
    if mode is not None:
        policy = replace(policy, mode=mode)
    if max_change_share is not None:
        policy = replace(policy, max_change_share=None if max_change_share >= 1 else max_change_share)
    with ExitStack() as stack:
        _hold_warehouse(stack, settings.warehouse_path)
        con = stack.enter_context(warehouse.connect(settings.warehouse_path))
        try:
            if target is Target.crm:
                if not warehouse.table_exists(con, "marts", "crm_contact_scores"):
                    fail("marts.crm_contact_scores is missing; run `cdp run` first")
                feed = con.execute(
                    "SELECT crm_contact_id AS contact_id, customer_id, health_score, health_tier, "
                    "health_top_reason FROM marts.crm_contact_scores"
                ).df()
                result = sync_sql_crm(feed, settings.sync_target(), con, policy=policy)
            else:
                from connectors.hubspot import HubSpotClient, sync_hubspot
                from orchestration.assets.hubspot import CONTACT_FEED_SQL

                if not warehouse.table_exists(con, "marts", "customer_health"):
                    fail("marts.customer_health is missing; run `cdp run` first")
                client = HubSpotClient()
                try:
                    result = sync_hubspot(con.execute(CONTACT_FEED_SQL).df(), client, con, policy)
                finally:
                    client.close()
            if not result.dry_run:
                record_run(con, result, datetime.now(UTC).replace(tzinfo=None))
        except CircuitBreakerOpen as exc:
            console.print(f"[red]circuit breaker:[/red] {exc}")
            raise typer.Exit(code=3) from None
        except SyncError as exc:
            fail(str(exc))
    return result


def _print(result) -> None:
    console.print(
        f"[bold]{result.destination}[/bold]{' — dry run, nothing written' if result.dry_run else ''}"
    )
    table = Table()
    table.add_column("count")
    table.add_column("records", justify="right")
    rows = [
        ("considered", result.considered),
        ("unchanged", result.unchanged),
        ("create" if result.dry_run else "inserted", result.inserted),
        ("update" if result.dry_run else "updated", result.updated),
        ("delete" if result.dry_run else "deleted", result.deleted),
        ("skipped", result.skipped),
        ("of which shared key", result.conflicts),
        ("invalid" if result.dry_run else "failed", result.failed),
    ]
    if not result.dry_run:
        rows.append(("of which new", result.new_failures))
        rows.append(("of which retried next run", result.retryable_failed))
    for name, value in rows:
        table.add_row(name, f"{value:,}")
    console.print(table)
    if result.plan and result.plan["fields"]:
        fields = Table(title="Planned changes per field")
        fields.add_column("field")
        fields.add_column("records changing", justify="right")
        for name, count in result.plan["fields"].items():
            fields.add_row(name, f"{count:,}")
        console.print(fields)
    for error in result.errors:
        console.print(f"[yellow]error:[/yellow] {error}")
    if result.conflicts:
        console.print(
            f"{result.conflicts:,} record(s) share their destination key with another record and are not "
            "sent: see `cdp sync dead-letters` (operation skip_conflict)"
        )
    if result.aborted:
        console.print(f"[yellow]stopped early:[/yellow] {result.aborted}")


@sync_app.command("plan")
def sync_plan(
    to: Target = _TARGET,
    mode: str = _MODE,
    max_change_share: float = _SHARE,
) -> None:
    """Dry run: show the creates, updates and deletes per field the sync would make, writing nothing."""
    _print(_sync(to, True, mode, max_change_share))


@sync_app.command("run")
def sync_run(
    to: Target = _TARGET,
    mode: str = _MODE,
    max_change_share: float = _SHARE,
) -> None:
    """Send new and changed records; failures go to sync.dead_letters.

    Exit 1 when a record failed that had not failed the same way before, or the run stopped early;
    repeated failures and records sharing a key are reported and listed, but exit 0.
    """
    result = _sync(to, False, mode, max_change_share)
    _print(result)
    if result.new_failures or result.aborted:
        raise typer.Exit(code=1)


@sync_app.command("dead-letters")
def sync_dead_letters(
    show_keys: bool = typer.Option(
        False, help="List record keys (they may be e-mail addresses: personal data)."
    ),
    include_resolved: bool = typer.Option(False, help="Include letters a later run resolved."),
    csv_file: Path | None = typer.Option(
        None, "--csv", help="Also write the rows shown to this CSV file (formulas neutralised)."
    ),
) -> None:
    """Show the records a destination refused, never confirmed, or did not get (shared key).

    Records not sent because other input records share their destination key (customers sharing
    an e-mail address) are listed with operation skip_conflict.
    """
    from connectors import warehouse
    from orchestration.settings import Settings

    settings = Settings.from_env()
    with warehouse.connect(settings.warehouse_path) as con:
        if not warehouse.table_exists(con, "sync", "dead_letters"):
            console.print("no dead letters: no sync has failed a record yet")
            return
        where = "" if include_resolved else "WHERE resolved_at IS NULL"
        if show_keys:
            frame = con.execute(
                "SELECT destination, record_key AS record, operation, retryable, attempts, "
                f"last_failed_at AS last_failed, error FROM sync.dead_letters {where} "
                "ORDER BY destination, record_key"
            ).df()
        else:
            frame = con.execute(
                "SELECT destination, operation, retryable, count(*) AS records, "
                f"max(last_failed_at) AS last_failed, error FROM sync.dead_letters {where} "
                "GROUP BY ALL ORDER BY records DESC, destination, error"
            ).df()
    table = Table(title=f"Dead letters{'' if include_resolved else ' (open)'}")
    for column in frame.columns:
        table.add_column(column.replace("_", " "))
    for row in frame.itertuples(index=False):
        table.add_row(*(str(v) for v in row))
    console.print(table if len(frame) else "no open dead letters")
    if csv_file is not None:
        write_csv_file(frame, csv_file)
