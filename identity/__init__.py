"""Identity resolution: person records from every source → customers with persistent ids.

The public API is small:

- ``resolve(records, previous=None)`` links records and assigns customer ids.
- ``train(records)`` re-estimates the saved Splink model (a reviewed change).
- ``evaluate_clusters(predicted, truth)`` measures accuracy against ground truth.
- ``normalise_records(records)`` exposes the matching columns for inspection.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from identity._evaluate import Evaluation, evaluate_clusters
from identity._ids import assign_customer_ids, connected_components
from identity._model import DEFAULT_MODEL_PATH, load_model, score_pairs
from identity._model import train as _train_model
from identity._normalise import normalise_records

DEFAULT_THRESHOLD = 0.95

__all__ = [
    "DEFAULT_MODEL_PATH",
    "DEFAULT_THRESHOLD",
    "Evaluation",
    "Resolution",
    "evaluate_clusters",
    "normalise_records",
    "resolve",
    "train",
]


@dataclass
class Resolution:
    """The outcome of one identity run.

    Attributes:
        clusters: One row per source record: ``record_id, source, source_record_id, customer_id,
            cluster_size, match_probability, resolved_at``.
        links: One row per accepted link: ``record_id_l, record_id_r, match_probability,
            match_weight, rule``.
        stats: Figures for run metadata (records, customers, links, carried-over ids ...).
    """

    clusters: pd.DataFrame
    links: pd.DataFrame
    stats: dict


def train(records: pd.DataFrame, out_path: str | Path = DEFAULT_MODEL_PATH) -> dict:
    """Normalise person records, estimate the model without labels and save it as JSON.

    Args:
        records: Person records (``intermediate.int_person_records`` layout).
        out_path: Where the model JSON goes; the default is the one ``resolve`` loads.

    Returns:
        The saved model.
    """
    return _train_model(normalise_records(records), out_path)


def resolve(
    records: pd.DataFrame,
    previous: pd.DataFrame | None = None,
    model_path: str | Path = DEFAULT_MODEL_PATH,
    threshold: float = DEFAULT_THRESHOLD,
) -> Resolution:
    """Link person records into customers and give each a persistent customer id.

    Args:
        records: One row per source record with ``record_id, source, source_record_id,
            first_name, last_name, full_name, email, phone, company_name, country``.
        previous: The last run's ``record_id, customer_id`` (to carry ids over), or None.
        model_path: The saved Splink model.
        threshold: Minimum match probability for a model link.

    Returns:
        Clusters, links and run figures.
    """
    if records["record_id"].duplicated().any():
        dupes = records.loc[records["record_id"].duplicated(), "record_id"].head(3).tolist()
        raise ValueError(f"record_id must be unique; repeated: {dupes}")
    normalised = normalise_records(records)
    with duckdb.connect() as con:
        links = score_pairs(con, normalised, load_model(model_path), threshold)
        cluster_keys = connected_components(con, normalised["record_id"], links)
    ids = assign_customer_ids(cluster_keys, previous)

    strongest = (
        pd.concat(
            [
                links[["record_id_l", "match_probability"]].rename(columns={"record_id_l": "record_id"}),
                links[["record_id_r", "match_probability"]].rename(columns={"record_id_r": "record_id"}),
            ]
        )
        .groupby("record_id")["match_probability"]
        .max()
    )

    clusters = (
        records[["record_id", "source", "source_record_id"]].astype("string").merge(ids, on="record_id")
    )
    clusters["cluster_size"] = clusters.groupby("customer_id")["record_id"].transform("size").astype("int32")
    clusters["match_probability"] = clusters["record_id"].map(strongest).fillna(1.0).astype("float64")
    clusters["resolved_at"] = pd.Timestamp(datetime.now(UTC).replace(tzinfo=None)).floor("s")
    carried = clusters["previous_customer_id"].notna() & (
        clusters["previous_customer_id"] == clusters["customer_id"]
    )
    stats = {
        "records": len(clusters),
        "customers": int(clusters["customer_id"].nunique()),
        "links": len(links),
        "deterministic_links": int((links["rule"] != "model").sum()),
        "largest_cluster": int(clusters["cluster_size"].max()) if len(clusters) else 0,
        "records_merged_share": float((clusters["cluster_size"] > 1).mean()) if len(clusters) else 0.0,
        "records_keeping_previous_id": int(carried.sum()),
        "records_seen_before": int(clusters["previous_customer_id"].notna().sum()),
    }
    return Resolution(clusters=clusters.drop(columns=["previous_customer_id"]), links=links, stats=stats)
