"""``cdp audiences``: list the audience definitions and export an audience's members."""

from enum import StrEnum
from pathlib import Path

import typer
from rich.table import Table

from orchestration.cli_common import console, fail

audiences_app = typer.Typer(help="Audiences: list definitions, export members.", no_args_is_help=True)


class Format(StrEnum):
    """Export file formats."""

    csv = "csv"
    parquet = "parquet"


@audiences_app.command("list")
def list_audiences() -> None:
    """List every audience definition with its purpose, priority and current size."""
    from connectors import audiences, warehouse
    from orchestration.settings import Settings

    try:
        definitions = audiences.load_audiences()
    except audiences.AudienceError as exc:
        fail(str(exc))
    settings = Settings.from_env()
    table = Table("audience", "purpose", "priority", "members", "description")
    with warehouse.connect(settings.warehouse_path) as con:
        for definition in definitions:
            size = "not built"
            if warehouse.table_exists(con, audiences.SCHEMA, definition.name):
                size = f"{con.execute(f'SELECT count(*) FROM {audiences.SCHEMA}.{definition.name}').fetchall()[0][0]:,}"
            table.add_row(
                definition.name, definition.purpose, str(definition.priority), size, definition.description
            )
    console.print(table)


@audiences_app.command("export")
def export(
    name: str = typer.Argument(help="Audience name (see `cdp audiences list`)."),
    fmt: Format = typer.Option(Format.csv, "--format", help="csv or parquet."),
    out: Path | None = typer.Option(None, help="File to write; default <name>.<format> here."),
    hashed: bool = typer.Option(
        False,
        "--hashed",
        help="Ad-platform identifiers: SHA-256 of trimmed lower-case email and E.164 phone.",
    ),
) -> None:
    """Export the members of a built audience (consent already enforced) to CSV or Parquet.

    In a CSV, a text value a spreadsheet would run as a formula (starting with =, +, -, @, tab or
    CR) gets a leading ' ; E.164 phones and hashes are written unchanged.
    """
    from connectors import audiences, warehouse
    from orchestration.settings import Settings

    try:
        known = {d.name for d in audiences.load_audiences()}
    except audiences.AudienceError as exc:
        fail(str(exc))
    if name not in known:
        fail(f"no audience '{name}'; known: {', '.join(sorted(known))}")
    settings = Settings.from_env()
    with warehouse.connect(settings.warehouse_path) as con:
        if not warehouse.table_exists(con, audiences.SCHEMA, name):
            fail(f"audience '{name}' is not built yet; run `cdp run` first")
        frame = warehouse.read_table(con, audiences.SCHEMA, name)
    path = out or Path(f"{name}.{fmt.value}")
    try:
        rows = audiences.export_members(frame, path, fmt.value, hashed)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}; choose another --out")
    console.print(
        f"wrote {rows:,} member(s) of {name} to {path}" + (" (hashed identifiers)" if hashed else "")
    )
