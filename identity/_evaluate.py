"""Accuracy of a clustering against ground truth: pairwise and B-cubed scores, over-merges and splits.

Two kinds of truth are accepted. A ground-truth column (``person_id`` per record) gives the true
clustering outright. Labelled pairs (``record_id_l, record_id_r, is_match``), as a clerical review
produces them, give pairwise figures directly; for the cluster figures the true clusters are taken
to be the connected components of the matching pairs, which is exact when the review labelled every
pair among the records it covers and otherwise counts unlabelled cross-cluster pairs as non-matches.
"""

from dataclasses import asdict, dataclass

import duckdb
import pandas as pd

from identity._ids import connected_components

PAIR_COLUMNS = ("record_id_l", "record_id_r", "is_match")
_TRUE_LABELS = {"1", "true", "t", "yes", "y", "match"}
_FALSE_LABELS = {"0", "false", "f", "no", "n", "non_match", "nonmatch"}


@dataclass(frozen=True)
class Evaluation:
    """Accuracy of predicted customers against true persons.

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
        bcubed_precision: Mean over records of the share of the record's customer that is its person.
        bcubed_recall: Mean over records of the share of the record's person that is in its customer.
        bcubed_f1: Harmonic mean of the two B-cubed scores.
        over_merged_customers: Customers holding records of more than one person.
        over_merge_rate: over_merged_customers / customers.
        split_persons: Persons whose records are spread over more than one customer.
        split_rate: split_persons / persons.
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
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    over_merged_customers: int
    over_merge_rate: float
    split_persons: int
    split_rate: float

    def as_dict(self) -> dict:
        """Return the figures as a plain dict (for metadata and result files)."""
        return asdict(self)


def _pairs(sizes: pd.Series) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _cluster_figures(joined: pd.DataFrame) -> dict:
    """B-cubed scores and over-merge/split counts of ``record_id, customer_id, person_id`` rows."""
    if joined.empty:
        return {
            "customers": 0,
            "persons": 0,
            "bcubed_precision": 1.0,
            "bcubed_recall": 1.0,
            "bcubed_f1": 1.0,
            "over_merged_customers": 0,
            "over_merge_rate": 0.0,
            "split_persons": 0,
            "split_rate": 0.0,
        }
    cells = joined.groupby(["customer_id", "person_id"]).size().rename("shared").reset_index()
    cells["customer_size"] = cells["customer_id"].map(joined.groupby("customer_id").size())
    cells["person_size"] = cells["person_id"].map(joined.groupby("person_id").size())
    # Every record in a (customer, person) cell scores shared/customer_size and shared/person_size.
    precision = float((cells["shared"] ** 2 / cells["customer_size"]).sum() / len(joined))
    recall = float((cells["shared"] ** 2 / cells["person_size"]).sum() / len(joined))
    customers = int(cells["customer_id"].nunique())
    persons = int(cells["person_id"].nunique())
    over_merged = int((cells.groupby("customer_id").size() > 1).sum())
    split = int((cells.groupby("person_id").size() > 1).sum())
    return {
        "customers": customers,
        "persons": persons,
        "bcubed_precision": precision,
        "bcubed_recall": recall,
        "bcubed_f1": _f1(precision, recall),
        "over_merged_customers": over_merged,
        "over_merge_rate": _ratio(over_merged, customers),
        "split_persons": split,
        "split_rate": _ratio(split, persons),
    }


def evaluate_clusters(predicted: pd.DataFrame, truth: pd.DataFrame) -> Evaluation:
    """Compare predicted customers with true persons over the records both know.

    Args:
        predicted: ``record_id, customer_id``.
        truth: ``record_id, person_id``.

    Returns:
        Pairwise and B-cubed scores, over-merge and split rates.
    """
    joined = (
        predicted[["record_id", "customer_id"]]
        .astype("string")
        .merge(truth[["record_id", "person_id"]].astype("string"), on="record_id")
        .dropna(subset=["customer_id", "person_id"])
    )
    tp = _pairs(joined.groupby(["customer_id", "person_id"]).size())
    predicted_pairs = _pairs(joined.groupby("customer_id").size())
    true_pairs = _pairs(joined.groupby("person_id").size())
    precision = tp / predicted_pairs if predicted_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    return Evaluation(
        records=len(joined),
        true_pairs=true_pairs,
        predicted_pairs=predicted_pairs,
        true_positive_pairs=tp,
        precision=precision,
        recall=recall,
        f1=_f1(precision, recall),
        **_cluster_figures(joined),
    )


def _labels(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip().str.lower()
    unknown = text[~text.isin(_TRUE_LABELS | _FALSE_LABELS)]
    if len(unknown):
        raise ValueError(
            f"is_match must be true/false (or 1/0, yes/no); found {unknown.iloc[0]!r} in row {unknown.index[0]}"
        )
    return text.isin(_TRUE_LABELS)


def evaluate_pairs(predicted: pd.DataFrame, pairs: pd.DataFrame) -> Evaluation:
    """Compare predicted customers with labelled record pairs.

    Pairwise figures count the labelled pairs only: a labelled match placed in one customer is a true
    positive, a labelled non-match placed in one customer a false positive. Cluster figures use the
    connected components of the labelled matches as the true persons (see the module notes).

    Args:
        predicted: ``record_id, customer_id``.
        pairs: ``record_id_l, record_id_r, is_match`` (true/false, 1/0 or yes/no).

    Returns:
        Pairwise and B-cubed scores, over-merge and split rates, over the records both know.

    Raises:
        ValueError: A column is missing or a label is not a boolean.
    """
    missing = [c for c in PAIR_COLUMNS if c not in pairs.columns]
    if missing:
        raise ValueError(f"labelled pairs need columns {list(PAIR_COLUMNS)}; missing {missing}")
    customer_of = (
        predicted.astype({"record_id": "string"}).set_index("record_id")["customer_id"].astype("string")
    )
    labelled = pairs[["record_id_l", "record_id_r"]].astype("string")
    labelled["is_match"] = _labels(pairs["is_match"])
    known = labelled["record_id_l"].isin(customer_of.index) & labelled["record_id_r"].isin(customer_of.index)
    labelled = labelled[known].drop_duplicates(subset=["record_id_l", "record_id_r"])
    together = (
        labelled["record_id_l"].map(customer_of).to_numpy()
        == labelled["record_id_r"].map(customer_of).to_numpy()
    )
    tp = int((together & labelled["is_match"]).sum())
    predicted_pairs = int(together.sum())
    true_pairs = int(labelled["is_match"].sum())
    precision = tp / predicted_pairs if predicted_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0

    nodes = pd.Series(sorted(set(labelled["record_id_l"]) | set(labelled["record_id_r"])), dtype="string")
    with duckdb.connect() as con:
        person_of = connected_components(con, nodes, labelled[labelled["is_match"]])
    joined = pd.DataFrame({"record_id": nodes, "person_id": nodes.map(person_of)})
    joined["customer_id"] = joined["record_id"].map(customer_of)
    return Evaluation(
        records=len(joined),
        true_pairs=true_pairs,
        predicted_pairs=predicted_pairs,
        true_positive_pairs=tp,
        precision=precision,
        recall=recall,
        f1=_f1(precision, recall),
        **_cluster_figures(joined),
    )
