"""What every ``cdp`` sub-command shares: the console and the one way to fail with a clear message."""

import typer
from rich.console import Console

console = Console()


def fail(message: str) -> None:
    """Print ``message`` as an error and exit with status 2 (a usage or input problem, not a crash).

    Args:
        message: What is wrong and what to do about it; never personal data or secrets.
    """
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=2)


def write_csv_file(frame, path) -> None:
    """Write what a command shows to a spreadsheet-safe CSV (``--csv FILE``), or fail with one message.

    Args:
        frame: The rows shown (a pandas DataFrame).
        path: The CSV file to write.
    """
    from connectors.safe_csv import write_csv

    try:
        write_csv(frame, path)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}; choose another --csv file")
    console.print(f"wrote {len(frame):,} row(s) to {path}")
