"""The Splink model: comparisons, blocking, training, and scoring of candidate pairs.

Matching is hybrid. Deterministic rules (the same normalised email, the same personal phone number,
the same CRM contact id) link records outright; Splink scores every other candidate pair from the
comparisons below. The trained parameters live in ``identity/models/person_model.json``, under version control, so match behaviour changes only
through a reviewed diff.
"""

import json
import logging
import re
from pathlib import Path

import duckdb
import pandas as pd
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from identity._normalise import normalise_records

DEFAULT_MODEL_PATH = Path(__file__).parent / "models" / "person_model.json"
_REMOTE_LINK = re.compile(r"<link\b[^>]*\bhref=[\"']https?://[^>]*>", re.IGNORECASE)
DETERMINISTIC_RULES = {
    "same_email": "l.email_norm = r.email_norm",
    # The same number (last eight digits, so national and international forms agree) on a line
    # no two differently named records share.
    "same_phone": "l.phone_key = r.phone_key",
    # A lead form or event that carries the CRM contact id it came from is that contact.
    "same_crm_contact_id": "l.crm_contact_id = r.crm_contact_id",
}

# Splink logs every EM iteration and SQL step at INFO.
logging.getLogger("splink").setLevel(logging.WARNING)


def _blocking_rules() -> list:
    return [
        block_on("email_norm"),
        block_on("phone_tail"),
        block_on("first_name_canonical", "last_name_norm"),
        "l.first_name_norm = r.last_name_norm and l.last_name_norm = r.first_name_norm",
        block_on("email_local"),
        block_on("last_name_norm", "company_norm"),
        block_on("first_name_canonical", "company_norm"),
    ]


def settings() -> SettingsCreator:
    """Return the untrained model definition.

    Returns:
        Splink settings for deduplicating the normalised person records.
    """
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        probability_two_random_records_match=1e-4,
        comparisons=[
            # Exact only: a shared local part across domains (john.smith@a / john.smith@b) is
            # common among different people, and email-only records have nothing else to weigh.
            cl.ExactMatch("email_norm"),
            cl.ExactMatch("phone_tail"),
            cl.ForenameSurnameComparison(
                "first_name_canonical",
                "last_name_norm",
                forename_surname_concat_col_name=None,
            ),
            cl.JaroWinklerAtThresholds("company_norm", [0.95, 0.85]),
        ],
        blocking_rules_to_generate_predictions=_blocking_rules(),
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
    )


def _linker(con: duckdb.DuckDBPyConnection, records: pd.DataFrame, model: dict | SettingsCreator) -> Linker:
    db_api = DuckDBAPI(con)
    sdf = db_api.register(records, dataset_display_name="person_records")
    return Linker(sdf, model)


def train(records: pd.DataFrame, out_path: str | Path = DEFAULT_MODEL_PATH, seed: int = 7) -> dict:
    """Estimate the model's parameters without labels and save them as JSON.

    u probabilities come from random sampling; m probabilities from EM sessions each blocked on
    a different identifier, so every comparison is trained in at least one session where it is
    not the blocking column.

    Args:
        records: Normalised person records (``normalise_records`` output).
        out_path: Where to write the model JSON.
        seed: Seed for the random sampling of u.

    Returns:
        The saved model as a dict.
    """
    with duckdb.connect() as con:
        linker = _linker(con, records, settings())
        linker.training.estimate_probability_two_random_records_match(
            [block_on("email_norm"), block_on("phone_tail", "last_name_norm")], recall=0.8
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
        for rule in (block_on("email_norm"), block_on("phone_tail"), block_on("last_name_norm")):
            linker.training.estimate_parameters_using_expectation_maximisation(rule, max_pairs=2e6)
        model = linker.misc.save_model_to_json()
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    Path(out_path).write_text(json.dumps(model, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return model


def load_model(path: str | Path = DEFAULT_MODEL_PATH) -> dict:
    """Read a saved model.

    Args:
        path: The model JSON.

    Returns:
        The model as a dict.

    Raises:
        FileNotFoundError: With the command that trains one.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no identity model at {path}; train one with `cdp identity train`")
    return json.loads(path.read_text(encoding="utf-8"))


def score_pairs(
    con: duckdb.DuckDBPyConnection, records: pd.DataFrame, model: dict, threshold: float
) -> pd.DataFrame:
    """Score candidate pairs and return the links: deterministic ones and model ones at the threshold.

    Args:
        con: A DuckDB connection for Splink's work tables (an in-memory one is fine).
        records: Normalised person records.
        model: The saved model.
        threshold: Minimum match probability for a model link.

    Returns:
        One row per link: ``record_id_l, record_id_r, match_probability, match_weight, rule,
        evidence``, where rule names the deterministic rule that linked the pair, or is ``model``, and
        evidence lists the model's comparison levels with their match weights (null when the model
        did not score the pair).
    """
    linker = _linker(con, records, model)
    comparisons = [c["output_column_name"] for c in model["comparisons"]]
    level_columns = ", ".join(f"gamma_{c}, mw_{c} AS w_{c}" for c in comparisons)
    predictions = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
    con.register("_person_records", records)
    try:
        rules = " UNION ALL ".join(
            f"SELECT l.record_id AS record_id_l, r.record_id AS record_id_r, '{name}' AS rule "
            f"FROM _person_records l JOIN _person_records r ON l.record_id < r.record_id AND {sql}"
            for name, sql in DETERMINISTIC_RULES.items()
        )
        links = con.execute(
            f"""
            WITH deterministic AS (
                SELECT record_id_l, record_id_r, min(rule) AS rule FROM ({rules}) GROUP BY ALL
            ),
            scored AS (
                SELECT least(record_id_l, record_id_r) AS record_id_l,
                       greatest(record_id_l, record_id_r) AS record_id_r,
                       match_probability, match_weight, {level_columns}
                FROM {predictions.physical_name}
            )
            SELECT coalesce(s.record_id_l, d.record_id_l) AS record_id_l,
                   coalesce(s.record_id_r, d.record_id_r) AS record_id_r,
                   coalesce(s.match_probability, 1.0) AS match_probability,
                   s.match_weight,
                   coalesce(d.rule, 'model') AS rule,
                   {", ".join(f"s.gamma_{c}, s.w_{c}" for c in comparisons)}
            FROM scored s FULL OUTER JOIN deterministic d
              ON s.record_id_l = d.record_id_l AND s.record_id_r = d.record_id_r
            ORDER BY 1, 2
            """
        ).df()
    finally:
        con.unregister("_person_records")
    links["evidence"] = _evidence(links, model)
    return links.drop(columns=[f"{prefix}_{c}" for c in comparisons for prefix in ("gamma", "w")])


def _evidence(links: pd.DataFrame, model: dict) -> pd.Series:
    """Describe each scored pair by the comparison level it reached and that level's match weight."""
    parts = []
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        # Splink numbers the non-null levels from the last (0) up to the first; the null level is -1.
        levels = [level for level in comparison["comparison_levels"] if not level.get("is_null_level")]
        labels = {len(levels) - 1 - i: level["label_for_charts"] for i, level in enumerate(levels)}
        labels[-1] = f"{name} missing"
        gamma, weight = links[f"gamma_{name}"], links[f"w_{name}"]
        parts.append(
            pd.Series(
                [
                    None if pd.isna(g) else f"{labels[int(g)]} ({w:+.1f})"
                    for g, w in zip(gamma, weight.fillna(0.0), strict=True)
                ],
                index=links.index,
                dtype="string",
            )
        )
    if not parts:
        return pd.Series(pd.NA, index=links.index, dtype="string")
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + "; " + part
    return joined


def write_dashboards(
    records: pd.DataFrame,
    clusters: pd.DataFrame,
    out_dir: str | Path,
    model_path: str | Path = DEFAULT_MODEL_PATH,
    threshold: float = 0.95,
) -> list[Path]:
    """Write Splink's comparison viewer and cluster studio for stewards, as self-contained HTML.

    Splink inlines its JavaScript; the web-font links it adds are removed, so the pages make no
    network request and open offline. They show personal data: keep the folder where the warehouse is.

    Args:
        records: Person records (``intermediate.int_person_records`` layout).
        clusters: ``record_id, customer_id`` per record.
        out_dir: Folder for the HTML files (created if missing).
        model_path: The saved model.
        threshold: The match probability threshold the run used.

    Returns:
        The paths written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    comparison = out_dir / "comparison_viewer.html"
    studio = out_dir / "cluster_studio.html"
    records = normalise_records(records)
    with duckdb.connect() as con:
        linker = _linker(con, records, load_model(model_path))
        predictions = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
        labelled = records.merge(clusters[["record_id", "customer_id"]], on="record_id")
        clustered = linker.table_management.register_table(
            labelled.rename(columns={"customer_id": "cluster_id"}), "customer_clusters", overwrite=True
        )
        linker.visualisations.comparison_viewer_dashboard(predictions, str(comparison), overwrite=True)
        linker.visualisations.cluster_studio_dashboard(
            predictions,
            clustered,
            str(studio),
            sampling_method="by_cluster_size",
            sample_size=20,
            overwrite=True,
        )
    for page in (comparison, studio):
        html = page.read_text(encoding="utf-8")
        page.write_text(_REMOTE_LINK.sub("", html), encoding="utf-8")
    return [comparison, studio]
