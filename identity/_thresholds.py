"""Choosing the match threshold from labelled records, and the recall that blocking allows.

The threshold is a trade-off between merging strangers and splitting people; it is read off
labelled data rather than guessed: every candidate pair is scored once, then each threshold is
applied, the records clustered and the clusters compared with the truth pair by pair.
"""

from itertools import combinations
from pathlib import Path

import duckdb
import pandas as pd

from identity._model import DEFAULT_MODEL_PATH, load_model, score_pairs
from identity._normalise import normalise_records
from identity._steward import DEFAULT_MAX_CLUSTER_SIZE, cluster_with_overrides, exclusive_values

DEFAULT_CANDIDATES = (0.5, 0.8, 0.9, 0.95, 0.99, 0.995, 0.999)


def _pairs(groups: pd.Series) -> set[tuple[str, str]]:
    """All unordered record pairs that share a group (record id index → group key)."""
    pairs: set[tuple[str, str]] = set()
    for members in groups.groupby(groups).groups.values():
        pairs.update(combinations(sorted(map(str, members)), 2))
    return pairs


def threshold_report(
    records: pd.DataFrame,
    truth: pd.Series,
    model_path: str | Path = DEFAULT_MODEL_PATH,
    candidates: tuple[float, ...] = DEFAULT_CANDIDATES,
    min_precision: float = 0.999,
    max_cluster_size: int | None = DEFAULT_MAX_CLUSTER_SIZE,
) -> dict:
    """Measure pairwise precision and recall of the customers at each candidate threshold.

    Args:
        records: Person records (``intermediate.int_person_records`` layout).
        truth: The true person of each labelled record, indexed by record id.
        model_path: The saved model.
        candidates: Thresholds to try.
        min_precision: The chosen threshold is the one with the best recall among those reaching
            this precision (the best F1 if none does).
        max_cluster_size: The size limit resolution applies (``CDP_IDENTITY_MAX_CLUSTER_SIZE``).

    Returns:
        ``{"blocking_recall_ceiling", "true_pairs", "thresholds": [{threshold, precision, recall,
        f1}], "chosen"}``; the ceiling is the share of true pairs that a blocking or deterministic
        rule puts in front of the matcher at all.
    """
    truth = truth.astype("string").rename_axis("record_id")
    labelled = records[records["record_id"].isin(truth.index)]
    normalised = normalise_records(labelled)
    with duckdb.connect() as con:
        scored = score_pairs(con, normalised, load_model(model_path), threshold=0.0)
    true_pairs = _pairs(truth[truth.index.isin(labelled["record_id"])])
    generated = set(zip(scored["record_id_l"].astype(str), scored["record_id_r"].astype(str), strict=True))
    guards = exclusive_values(normalised)
    rows = []
    for threshold in candidates:
        links = scored[(scored["rule"] != "model") | (scored["match_probability"] >= threshold)]
        keys, _ = cluster_with_overrides(normalised["record_id"], links, [], guards, max_cluster_size)
        predicted = _pairs(keys)
        hits = len(predicted & true_pairs)
        precision = hits / len(predicted) if predicted else 1.0
        recall = hits / len(true_pairs) if true_pairs else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"threshold": threshold, "precision": precision, "recall": recall, "f1": f1})
    qualifying = [row for row in rows if row["precision"] >= min_precision]
    chosen = (
        max(qualifying, key=lambda row: (row["recall"], row["threshold"]))
        if qualifying
        else max(rows, key=lambda row: row["f1"])
    )
    return {
        "blocking_recall_ceiling": len(generated & true_pairs) / len(true_pairs) if true_pairs else 1.0,
        "true_pairs": len(true_pairs),
        "thresholds": rows,
        "chosen": chosen["threshold"],
    }
