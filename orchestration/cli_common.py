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
