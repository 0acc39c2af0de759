"""``cdp identity``: train the match model, evaluate the customers, and the identity tools."""

import json
import sys
from pathlib import Path

import typer

from orchestration.cli_common import console, fail

identity_app = typer.Typer(help="Identity resolution tools.", no_args_is_help=True)


@identity_app.command("train")
def identity_train(
    out: Path = typer.Option(None, help="Model JSON to write (default: the packaged model)."),
) -> None:
    """Re-estimate the Splink model from the warehouse's person records (review the diff before committing)."""
    import identity
    from connectors import warehouse
    from orchestration.settings import Settings

    settings = Settings.from_env()
    with warehouse.connect(settings.warehouse_path) as con:
        if not warehouse.table_exists(con, "intermediate", "int_person_records"):
            fail("intermediate.int_person_records is missing; run `cdp run` (or `make demo`) first")
        records = warehouse.read_table(con, "intermediate", "int_person_records")
    target = out or identity.DEFAULT_MODEL_PATH
    identity.train(records, target)
    console.print(f"trained on {len(records):,} records; model written to {target}")


@identity_app.command("evaluate")
def identity_evaluate(
    truth: Path = typer.Option(
        ..., exists=True, dir_okay=False, help="CSV with source, source_record_id, person_id."
    ),
) -> None:
    """Compare the warehouse's customers with a ground-truth file: pairwise precision, recall, F1."""
    from orchestration.runner import evaluate_against_truth
    from orchestration.settings import Settings

    figures = evaluate_against_truth(Settings.from_env().warehouse_path, truth)
    json.dump(figures, sys.stdout, indent=2)
    sys.stdout.write("\n")
