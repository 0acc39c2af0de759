"""``cdp identity``: train the match model, evaluate the customers, and the identity tools."""

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from orchestration.cli_common import console, fail

# Progress, notes and library messages go to stderr, so stdout holds only the results.
err_console = Console(stderr=True)
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
        None,
        exists=True,
        dir_okay=False,
        help="CSV/Parquet naming each record's true person: the --id column (or source, source_record_id "
        "for the warehouse's records), the --truth-column and, for a --link output whose ids repeat "
        "across the files, the --dataset-column.",
    ),
    pairs: Path = typer.Option(
        None,
        exists=True,
        dir_okay=False,
        help="CSV/Parquet of labelled pairs: record_id_l, record_id_r, is_match (and source_dataset_l, "
        "source_dataset_r for a --link output whose ids repeat across the files).",
    ),
    truth_column: str = typer.Option("person_id", help="Column of --truth holding the true person."),
    id_column: str = typer.Option("record_id", "--id", help="Column of --truth holding the record id."),
    dataset_column: str = typer.Option(
        None,
        help="Column of --truth naming each record's input file as the assignments do "
        "(default: source_dataset when present).",
    ),
    predicted: Path = typer.Option(
        None,
        exists=True,
        dir_okay=False,
        help="Assignments from `cdp identity resolve` to score instead of the warehouse's customers.",
    ),
) -> None:
    """Score the warehouse's customers (or a resolve output) against a ground truth or labelled pairs.

    Prints pairwise and B-cubed precision/recall/F1, over-merge and split rates and how much of the
    prediction the truth covers, as JSON. A --link output is scored on pairs across the two files.
    """
    from orchestration.runner import evaluate_against_truth
    from orchestration.settings import Settings

    if (truth is None) == (pairs is None):
        fail("give exactly one of --truth (a ground-truth file) or --pairs (labelled pairs)")
    try:
        figures = evaluate_against_truth(
            Settings.from_env().warehouse_path,
            truth,
            pairs_path=pairs,
            truth_column=truth_column,
            predicted_path=predicted,
            id_column=id_column,
            dataset_column=dataset_column,
        )
    except ValueError as error:
        fail(str(error))
    scored = figures["records"]
    gaps = []
    if figures["coverage_of_predicted"] < 1:
        gaps.append(f"the truth covers {scored:,} of the {figures['predicted_records']:,} predicted records")
    if figures["coverage_of_truth"] < 1:
        gaps.append(f"the prediction holds {scored:,} of the {figures['truth_records']:,} truth records")
    if gaps:
        err_console.print(
            f"[yellow]warning:[/yellow] {'; '.join(gaps)}: the scores are over those {scored:,} records only"
        )
    json.dump(figures, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _parse_map(options: list[str]) -> dict[str, str]:
    mapping = {}
    for option in options:
        field, sep, column = option.partition("=")
        if not sep or not field.strip() or not column.strip():
            fail(f"--map takes FIELD=COLUMN (e.g. --map first_name=fname), not '{option}'")
        mapping[field.strip()] = column.strip()
    return mapping


@contextmanager
def _library_logging(verbose: bool) -> Iterator[None]:
    """Send Splink's and the identity library's messages to stderr, at WARNING (INFO with -v)."""
    handler = RichHandler(console=err_console, show_time=False, show_path=False)
    saved = []
    for name in ("splink", "identity"):
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.propagate, logger.handlers[:]))
        logger.handlers = [handler]
        logger.setLevel(logging.INFO if verbose else logging.WARNING)
        logger.propagate = False
    try:
        yield
    finally:
        for logger, level, propagate, handlers in saved:
            logger.handlers, logger.propagate = handlers, propagate
            logger.setLevel(level)


def _print_notes(stats: dict) -> None:
    if stats["trained"] and stats["untrained_parameters"]:
        err_console.print(
            f"note: {stats['untrained_parameters']} model parameters had no training examples in this input "
            "and keep Splink's defaults (-v shows Splink's notes)"
        )
    if stats["dropped_em_sessions"]:
        err_console.print(
            "note: training blocked on " + ", ".join(stats["dropped_em_sessions"]) + " stopped when a "
            "probability fell to 0 and was left out"
        )
    if stats["unreadable_values"]:
        err_console.print(
            "note: values that could not be read (or are placeholders) count as missing: "
            + ", ".join(f"{name} {count:,}" for name, count in stats["unreadable_values"].items())
        )


@identity_app.command("resolve")
def identity_resolve(
    input_file: Path = typer.Argument(..., help="CSV or Parquet file of person records."),
    out: Path = typer.Option(..., help="Where to write record → customer assignments (.csv or .parquet)."),
    link: Path = typer.Option(
        None, help="A second file to link INPUT_FILE to (same columns) instead of deduplicating."
    ),
    map_: list[str] = typer.Option(
        [],
        "--map",
        help="FIELD=COLUMN, repeatable. Fields: record_id, first_name, last_name, full_name, email, phone, "
        "date_of_birth, address, postcode, city, national_id, country; for a field declared in --mapping, "
        "sets its column.",
    ),
    id_column: str = typer.Option(
        None, "--id", help="Column holding each record's id (the same as --map record_id=COLUMN)."
    ),
    mapping: Path = typer.Option(
        None,
        help="YAML mapping: 'field: column' lines, and extra fields as 'NAME: {column: COLUMN, compare: TYPE}' "
        "(TYPE: exact, name, date, numeric, postcode, text). --map and --id override it.",
    ),
    pairs_out: Path = typer.Option(None, help="Where to write the scored record pairs (.csv or .parquet)."),
    threshold: float = typer.Option(0.95, min=0.0, max=1.0, help="Match probability that joins two records."),
    pair_threshold: float = typer.Option(
        0.5,
        min=0.0,
        max=1.0,
        help="Lowest match probability written to --pairs-out (links are always written).",
    ),
    previous: Path = typer.Option(
        None, help="An earlier --out file whose customer ids are carried over to changed input."
    ),
    model: Path = typer.Option(
        None, help="A model JSON saved by --model-out to score with instead of training."
    ),
    model_out: Path = typer.Option(None, help="Where to save the trained model JSON."),
    max_pairs: float = typer.Option(2e6, min=1e3, help="Cap on record pairs sampled per training step."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Splink's training messages."),
) -> None:
    """Resolve any file of person records: deduplicate one file or link two, given a column mapping.

    Compares only the mapped fields, trains the model on the input by EM, links equal emails and
    national ids outright, and writes one row per record with its customer_id. The same input gives
    the same customer ids; --previous carries them over when the input changed.
    """
    import identity

    try:
        columns = identity.read_mapping(mapping) if mapping else {}
    except identity.ToolInputError as error:
        fail(str(error))
    for name, column in _parse_map(map_).items():
        declared = columns.get(name)
        columns[name] = {**declared, "column": column} if isinstance(declared, dict) else column
    if id_column is not None:
        columns["record_id"] = id_column
    if not columns:
        fail("give the column mapping with --map FIELD=COLUMN (repeatable) or --mapping FILE.yaml")
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )
    try:
        with _library_logging(verbose), progress:
            task = progress.add_task("reading and preparing the input", total=None)
            result = identity.resolve_file(
                input_file,
                columns,
                other_path=link,
                out=out,
                pairs_out=pairs_out,
                previous_path=previous,
                model_path=model,
                threshold=threshold,
                pair_threshold=pair_threshold,
                max_pairs=max_pairs,
                progress=lambda step, number, total: progress.update(
                    task, description=step, completed=number - 1, total=total
                ),
            )
    except identity.ToolInputError as error:
        fail(str(error))
    if model_out is not None:
        try:
            model_out.parent.mkdir(parents=True, exist_ok=True)
            model_out.write_text(json.dumps(result.model, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        except OSError as error:
            fail(f"{model_out}: cannot write the model: {error.strerror or error}")
    stats = result.stats
    console.print(
        f"{stats['records']:,} records → {stats['customers']:,} customers "
        f"({stats['links']:,} links, {stats['deterministic_links']:,} by exact email/national id) "
        f"in {stats['total_seconds']:.1f}s; compared {', '.join(stats['compared_fields'])}"
    )
    console.print(f"assignments: {out}" + (f"; pairs: {pairs_out}" if pairs_out else ""))
    _print_notes(stats)


@identity_app.command("trace")
def identity_trace(
    customer_id: str = typer.Argument(..., help="Any customer id the platform issued."),
) -> None:
    """Follow a customer id through merges, splits and reassignments to the customer that holds it now."""
    import identity
    from connectors import warehouse
    from orchestration.settings import Settings

    settings = Settings.from_env()
    with warehouse.connect(settings.warehouse_path) as con:
        if not warehouse.table_exists(con, "identity", "customer_id_history"):
            fail("identity.customer_id_history is missing; run `cdp run` (or `make demo`) first")
        history = warehouse.read_table(con, "identity", "customer_id_history")
        current_ids = {
            row[0]
            for row in con.execute("SELECT DISTINCT customer_id FROM identity.customer_clusters").fetchall()
        }
    current, events = identity.trace_customer(customer_id, history, current_ids)
    if not events and current is None:
        fail(f"{customer_id} was never issued by this warehouse")
    for event in events:
        related = (
            f" → {event['related_customer_id']}" if isinstance(event["related_customer_id"], str) else ""
        )
        console.print(
            f"{event['changed_at']}  {event['event']:<10} {event['customer_id']}{related}  "
            f"({event['records']} records; run {event['run_id']}; {event['reason']})",
            markup=False,
            highlight=False,
        )
    if current is None:
        console.print(f"{customer_id}: its records are no longer in the warehouse")
        raise typer.Exit(code=1)
    console.print(f"{customer_id} is now {current}", markup=False)


@identity_app.command("check-overrides")
def identity_check_overrides(
    path: Path = typer.Argument(
        None, help="Overrides YAML (default: CDP_IDENTITY_OVERRIDES or the packaged file)."
    ),
) -> None:
    """Validate the stewards' overrides file and summarise its decisions."""
    import identity
    from orchestration.settings import Settings

    try:
        overrides = identity.load_overrides(path or Settings.from_env().identity_overrides)
    except identity.OverridesError as error:
        fail(str(error))
    counts = {kind: sum(o.kind == kind for o in overrides) for kind in ("must_link", "cannot_link", "split")}
    console.print("overrides valid: " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))


@identity_app.command("thresholds")
def identity_thresholds(
    truth: Path = typer.Option(
        ..., exists=True, dir_okay=False, help="CSV with source, source_record_id and the --truth-column."
    ),
    truth_column: str = typer.Option("person_id", help="Column naming each record's true person."),
    min_precision: float = typer.Option(
        0.999, help="Choose the best-recall threshold reaching this precision."
    ),
) -> None:
    """Report precision/recall per match threshold and the blocking recall ceiling, and choose a threshold."""
    import pandas as pd

    import identity
    from connectors import warehouse
    from orchestration.settings import Settings

    settings = Settings.from_env()
    labels = pd.read_csv(truth, dtype="string")
    missing = {"source", "source_record_id", truth_column} - set(labels.columns)
    if missing:
        fail(f"{truth}: missing column(s) {', '.join(sorted(missing))}")
    labels.index = labels["source"] + ":" + labels["source_record_id"]
    with warehouse.connect(settings.warehouse_path) as con:
        if not warehouse.table_exists(con, "intermediate", "int_person_records"):
            fail("intermediate.int_person_records is missing; run `cdp run` (or `make demo`) first")
        records = warehouse.read_table(con, "intermediate", "int_person_records")
    report = identity.threshold_report(
        records,
        labels[truth_column],
        model_path=settings.identity_model or identity.DEFAULT_MODEL_PATH,
        min_precision=min_precision,
        max_cluster_size=settings.identity_max_cluster_size,
    )
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
