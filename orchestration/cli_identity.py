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
        None,
        exists=True,
        dir_okay=False,
        help="CSV/Parquet naming each record's true person: record_id (or source, source_record_id) "
        "and the --truth-column.",
    ),
    pairs: Path = typer.Option(
        None,
        exists=True,
        dir_okay=False,
        help="CSV/Parquet of labelled pairs: record_id_l, record_id_r, is_match.",
    ),
    truth_column: str = typer.Option("person_id", help="Column of --truth holding the true person."),
    predicted: Path = typer.Option(
        None,
        exists=True,
        dir_okay=False,
        help="Assignments from `cdp identity resolve` to score instead of the warehouse's customers.",
    ),
) -> None:
    """Score the warehouse's customers (or a resolve output) against a ground truth or labelled pairs.

    Prints pairwise and B-cubed precision/recall/F1, over-merge and split rates as JSON.
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
        )
    except ValueError as error:
        fail(str(error))
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
        "date_of_birth, address, postcode, city, national_id, country.",
    ),
    mapping: Path = typer.Option(
        None, help="YAML file of 'field: column' lines (--map entries override it)."
    ),
    pairs_out: Path = typer.Option(None, help="Where to write the scored record pairs (.csv or .parquet)."),
    threshold: float = typer.Option(0.95, min=0.0, max=1.0, help="Match probability that joins two records."),
    pair_threshold: float = typer.Option(
        0.5, min=0.0, max=1.0, help="Lowest match probability written to --pairs-out."
    ),
    previous: Path = typer.Option(None, help="An earlier --out file whose customer ids are carried over."),
    model: Path = typer.Option(
        None, help="A model JSON saved by --model-out to score with instead of training."
    ),
    model_out: Path = typer.Option(None, help="Where to save the trained model JSON."),
    max_pairs: float = typer.Option(2e6, min=1e3, help="Cap on record pairs sampled per training step."),
) -> None:
    """Resolve any file of person records: deduplicate one file or link two, given a column mapping.

    Compares only the mapped fields, trains the model on the input by EM, links equal emails and
    national ids outright, and writes one row per record with its customer_id.
    """
    import identity

    columns = identity.read_mapping(mapping) if mapping else {}
    columns.update(_parse_map(map_))
    if not columns:
        fail("give the column mapping with --map FIELD=COLUMN (repeatable) or --mapping FILE.yaml")
    saved = None
    if model is not None:
        if not model.is_file():
            fail(f"{model}: no such model file")
        saved = json.loads(model.read_text(encoding="utf-8"))
    try:
        result = identity.resolve_file(
            input_file,
            columns,
            other_path=link,
            out=out,
            pairs_out=pairs_out,
            previous_path=previous,
            threshold=threshold,
            pair_threshold=pair_threshold,
            model=saved,
            max_pairs=max_pairs,
        )
    except identity.ToolInputError as error:
        fail(str(error))
    if model_out is not None:
        model_out.parent.mkdir(parents=True, exist_ok=True)
        model_out.write_text(json.dumps(result.model, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    stats = result.stats
    console.print(
        f"{stats['records']:,} records → {stats['customers']:,} customers "
        f"({stats['links']:,} links, {stats['deterministic_links']:,} by exact email/national id) "
        f"in {stats['total_seconds']:.1f}s; compared {', '.join(stats['compared_fields'])}"
    )
    console.print(f"assignments: {out}" + (f"; pairs: {pairs_out}" if pairs_out else ""))


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
