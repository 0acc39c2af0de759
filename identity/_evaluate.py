"""Accuracy of a clustering against ground truth: pairwise precision, recall and F1."""

from dataclasses import asdict, dataclass

import pandas as pd


@dataclass(frozen=True)
class Evaluation:
    """Pairwise accuracy of predicted customers against true persons.

    Attributes:
        records: Records present in both the prediction and the truth.
        true_pairs: Record pairs that are truly the same person.
        predicted_pairs: Record pairs placed in the same customer.
        true_positive_pairs: Pairs both predicted and true.
        precision: true_positive_pairs / predicted_pairs (1.0 when nothing was merged).
        recall: true_positive_pairs / true_pairs (1.0 when nothing should merge).
        f1: Harmonic mean of precision and recall.
        customers: Distinct predicted customers.
        persons: Distinct true persons.
    """

    records: int
    true_pairs: int
    predicted_pairs: int
    true_positive_pairs: int
    precision: float
    recall: float
    f1: float
    customers: int
    persons: int

    def as_dict(self) -> dict:
        """Return the figures as a plain dict (for metadata and result files)."""
        return asdict(self)


def _pairs(sizes: pd.Series) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def evaluate_clusters(predicted: pd.DataFrame, truth: pd.DataFrame) -> Evaluation:
    """Compare predicted customers with true persons over the records both know.

    Args:
        predicted: ``record_id, customer_id``.
        truth: ``record_id, person_id``.

    Returns:
        Pairwise counts and scores.
    """
    joined = predicted[["record_id", "customer_id"]].merge(truth[["record_id", "person_id"]], on="record_id")
    tp = _pairs(joined.groupby(["customer_id", "person_id"]).size())
    predicted_pairs = _pairs(joined.groupby("customer_id").size())
    true_pairs = _pairs(joined.groupby("person_id").size())
    precision = tp / predicted_pairs if predicted_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Evaluation(
        records=len(joined),
        true_pairs=true_pairs,
        predicted_pairs=predicted_pairs,
        true_positive_pairs=tp,
        precision=precision,
        recall=recall,
        f1=f1,
        customers=joined["customer_id"].nunique(),
        persons=joined["person_id"].nunique(),
    )
