"""``cdp audit``: verify the tamper-evident audit log, anchor its head, list its records."""

from pathlib import Path

import duckdb
import typer
from rich.table import Table

from orchestration.cli_common import console, fail

audit_app = typer.Typer(
    help="The tamper-evident audit log: verify the chain, anchor its head, list records.",
    no_args_is_help=True,
)

_ANCHORS_HELP = "Anchors file (default: audit/anchors.jsonl beside the warehouse)."


def _warehouse() -> Path:
    from orchestration.settings import Settings

    path = Settings.from_env().warehouse_path
    if not path.exists():
        fail(f"no warehouse at {path}; run `cdp run` first (or set CDP_WAREHOUSE_PATH)")
    return path


def _open(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.IOException:
        fail(f"the warehouse {path} is in use by a running pipeline; try again when it has finished")


@audit_app.command("verify")
def verify(anchors: Path | None = typer.Option(None, help=_ANCHORS_HELP)) -> None:
    """Recompute the hash chain and check the anchors; exit 1 naming the first broken seq."""
    import governance

    path = _warehouse()
    anchors = anchors or governance.anchors_file(path)
    with _open(path) as con:
        try:
            result = governance.verify(con, anchors)
        except ValueError as error:
            fail(str(error))
    if not result.intact:
        console.print(
            f"[red]chain broken at seq {result.broken_seq}[/red]: {result.problem.replace('_', ' ')}; "
            f"{result.detail}"
        )
        raise typer.Exit(code=1)
    # Without anchors a deleted tail goes unnoticed, so say so instead of a bare "0 checked".
    checked = (
        f"({result.anchors} anchor(s) checked in {anchors})"
        if anchors.exists()
        else f"(no anchors file at {anchors}: truncation is not checked; `cdp audit anchor` writes one)"
    )
    console.print(f"chain intact: {result.records} records, head {result.head_hash}", checked, soft_wrap=True)


@audit_app.command("anchor")
def anchor(anchors: Path | None = typer.Option(None, help=_ANCHORS_HELP)) -> None:
    """Verify the chain and append its head (seq, hash, time) to the anchors file.

    Copy the anchors file somewhere the warehouse's writers cannot reach: an anchor only proves
    what it was not possible to rewrite together with the warehouse.
    """
    import governance

    path = _warehouse()
    anchors = anchors or governance.anchors_file(path)
    with _open(path) as con:
        try:
            head = governance.anchor(con, anchors)
        except ValueError as error:
            console.print(f"[red]error:[/red] {error}")
            raise typer.Exit(code=1) from None
    if head is None:
        console.print("the audit log is empty; nothing to anchor")
        return
    console.print(f"anchored seq {head['seq']}, head {head['hash']} in {anchors}", soft_wrap=True)


@audit_app.command("log")
def log(
    limit: int = typer.Option(20, min=1, help="Show at most this many records, newest first."),
    action: str | None = typer.Option(None, help="Only this action (e.g. quarantine.release)."),
) -> None:
    """List the newest audit records: who did what to which entity, and the details."""
    import governance

    with _open(_warehouse()) as con:
        rows = governance.records(con, limit=limit, action=action)
    table = Table(title="Audit log (newest first)")
    for column in ("seq", "recorded_at (UTC)", "actor", "action", "entity", "details", "hash"):
        table.add_column(column, justify="right" if column == "seq" else "left", overflow="fold")
    for row in rows:
        table.add_row(
            str(row["seq"]),
            row["recorded_at"].isoformat(sep=" ", timespec="seconds"),
            row["actor"],
            row["action"],
            f"{row['entity_type']}:{row['entity_id']}",
            row["details"],
            row["hash"][:12],
        )
    console.print(table)
    console.print(f"{len(rows)} record(s)")
