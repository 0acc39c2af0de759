"""Identity resolution: person records from every source → customers with persistent ids.

The public API is small:

- ``resolve(records, previous=None)`` links records and assigns customer ids (a full reconcile).
- ``link_new_records(new, existing_normalised, clusters)`` links new records into the existing
  customers; ``plan_run`` decides when that is safe and when a full reconcile must run.
- ``train(records)`` re-estimates the saved Splink model (a reviewed change).
- ``evaluate_clusters(predicted, truth)`` / ``evaluate_pairs(predicted, pairs)`` measure accuracy
  (pairwise, B-cubed, over-merge and split rates) against a ground truth or labelled pairs.
- ``normalise_records(records)`` exposes the matching columns for inspection.
- ``resolve_accounts(records, clusters, crm_accounts)`` resolves companies and attaches customers.
- ``resolve_file(path, mapping)`` / ``resolve_frame(frame, mapping)`` resolve any person records
  given a column mapping (deduplicate one input or link two); ``read_mapping`` reads the mapping,
  extra fields included (``RESOLVE_COMPARE_TYPES``), ``read_model`` a model saved by a run.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from identity._accounts import AccountResolution, resolve_accounts
from identity._evaluate import Evaluation, evaluate_clusters, evaluate_pairs
from identity._ids import assign_customer_ids
from identity._incremental import IncrementalLinking, link_new_records
from identity._model import DEFAULT_MODEL_PATH, load_model, score_pairs, write_dashboards
from identity._model import train as _train_model
from identity._normalise import normalise_records
from identity._overrides import DEFAULT_OVERRIDES_PATH, Override, OverridesError, load_overrides
from identity._runs import RunPlan, config_signature, fingerprints, plan_run
from identity._steward import (
    DEFAULT_MAX_CLUSTER_SIZE,
    HISTORY_COLUMNS,
    STEWARD_RULE,
    cluster_with_overrides,
    crm_duplicates,
    exclusive_values,
    history_events,
    match_explanations,
    trace_customer,
)
from identity._thresholds import threshold_report
from identity._tool import COMPARE_TYPES as RESOLVE_COMPARE_TYPES
from identity._tool import FIELDS as RESOLVE_FIELDS
from identity._tool import (
    ToolInputError,
    ToolResult,
    read_mapping,
    read_model,
    read_table_file,
    resolve_file,
    resolve_frame,
)

DEFAULT_THRESHOLD = 0.95

__all__ = [
    "AccountResolution",
    "DEFAULT_MODEL_PATH",
    "DEFAULT_OVERRIDES_PATH",
    "DEFAULT_MAX_CLUSTER_SIZE",
    "DEFAULT_THRESHOLD",
    "Evaluation",
    "HISTORY_COLUMNS",
    "IncrementalLinking",
    "Override",
    "OverridesError",
    "RESOLVE_COMPARE_TYPES",
    "RESOLVE_FIELDS",
    "Resolution",
    "RunPlan",
    "ToolInputError",
    "ToolResult",
    "config_signature",
    "crm_duplicates",
    "evaluate_clusters",
    "evaluate_pairs",
    "fingerprints",
    "link_new_records",
    "load_overrides",
    "match_explanations",
    "normalise_records",
    "plan_run",
    "read_mapping",
    "read_model",
    "read_table_file",
    "resolve",
    "resolve_accounts",
    "resolve_file",
    "resolve_frame",
    "threshold_report",
    "trace_customer",
    "train",
    "write_dashboards",
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
        history: One row per customer id created, merged, split or reassigned by this run
            (``identity.customer_id_history`` layout).
        normalised: The records' matching columns (``normalise_records``), kept so the next
            incremental run need not recompute them.
    """

    clusters: pd.DataFrame
    links: pd.DataFrame
    stats: dict
    history: pd.DataFrame
    normalised: pd.DataFrame


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
    overrides: list[Override] | None = None,
    run_id: str = "adhoc",
    max_cluster_size: int | None = DEFAULT_MAX_CLUSTER_SIZE,
) -> Resolution:
    """Link person records into customers and give each a persistent customer id.

    Args:
        records: One row per source record with ``record_id, source, source_record_id,
            first_name, last_name, full_name, email, phone, company_name, country``.
        previous: The last run's ``record_id, customer_id`` (to carry ids over), or None.
        model_path: The saved Splink model.
        threshold: Minimum match probability for a model link.
        overrides: Steward decisions (``load_overrides()``); None reads the packaged overrides file.
        run_id: Names the run in the history rows.
        max_cluster_size: Largest customer model links may build; larger ones split at their
            weakest model links. None: no limit.

    Returns:
        Clusters, links, run figures and the id history of this run.
    """
    if records["record_id"].duplicated().any():
        dupes = records.loc[records["record_id"].duplicated(), "record_id"].head(3).tolist()
        raise ValueError(f"record_id must be unique; repeated: {dupes}")
    normalised = normalise_records(records)
    with duckdb.connect() as con:
        candidates = score_pairs(con, normalised, load_model(model_path), threshold)
    overrides = load_overrides() if overrides is None else overrides
    cluster_keys, links = cluster_with_overrides(
        normalised["record_id"], candidates, overrides, exclusive_values(normalised), max_cluster_size
    )
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
        "links_refused_by_overrides_and_guards": len(candidates) - int((links["rule"] != STEWARD_RULE).sum()),
        "steward_decisions": len(overrides),
    }
    return Resolution(
        clusters=clusters.drop(columns=["previous_customer_id"]),
        links=links,
        stats=stats,
        history=history_events(ids, overrides, run_id),
        normalised=normalised,
    )
