"""Accuracy of a clustering against ground truth: pairwise and B-cubed scores, over-merges and splits.

Two kinds of truth are accepted. A ground-truth column (``person_id`` per record) gives the true
clustering outright. Labelled pairs (``record_id_l, record_id_r, is_match``), as a clerical review
produces them, give pairwise figures directly; for the cluster figures the true clusters are taken
to be the connected components of the matching pairs, which is exact when the review labelled every
pair among the records it covers and otherwise counts unlabelled cross-cluster pairs as non-matches.

Records are known by ``record_id``, or by ``source_dataset, record_id`` when the prediction links
two inputs (the same id in both inputs is two records). Truth that shares no record with the
prediction, or is ambiguous about which record it means, is refused rather than scored; the
figures say how much of each side the other covers. A prediction linking two inputs can only join
records across them, so it is scored on cross-input pairs only, and its cluster figures compare it
with the best clustering a link can reach: a person with records in one input only counts as one
person per record.
"""

from dataclasses import asdict, dataclass

import duckdb
import pandas as pd

from identity._ids import connected_components

PAIR_COLUMNS = ("record_id_l", "record_id_r", "is_match")
DATASET_PAIR_COLUMNS = ("source_dataset_l", "source_dataset_r")
_TRUE_LABELS = {"1", "true", "t", "yes", "y", "match"}
_FALSE_LABELS = {"0", "false", "f", "no", "n", "non_match", "nonmatch"}


@dataclass(frozen=True)
class Evaluation:
    """Accuracy of predicted customers against true persons.

    Attributes:
        records: Records present in both the prediction and the truth (the records scored).
        predicted_records: Records in the prediction.
        truth_records: Records the truth names.
        coverage_of_predicted: records / predicted_records: how much of the prediction is scored.
        coverage_of_truth: records / truth_records: how much of the truth the prediction holds.
        across_inputs_only: True when the prediction links two inputs and only pairs with one record
            from each were counted.
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
    predicted_records: int
    truth_records: int
    coverage_of_predicted: float
    coverage_of_truth: float
    across_inputs_only: bool
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


def _pair_count(joined: pd.DataFrame, by: list[str], across: bool) -> int:
    """Record pairs sharing ``by``; with ``across``, only those taking one record from each input."""
    if not across:
        return _pairs(joined.groupby(by).size())
    per_input = joined.groupby([*by, "source_dataset"]).size().unstack(fill_value=0)
    return int(per_input.prod(axis=1).sum()) if per_input.shape[1] == 2 else 0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _cluster_figures(joined: pd.DataFrame) -> dict:
    """B-cubed scores and over-merge/split counts of (one or more) ``record_id, customer_id, person_id`` rows."""
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


def _prediction(predicted: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The prediction as text, and the inputs it holds records of (none named: one input)."""
    keys = ["source_dataset", "record_id"] if "source_dataset" in predicted.columns else ["record_id"]
    frame = predicted[[*keys, "customer_id"]].astype("string").dropna(subset=[*keys, "customer_id"])
    datasets = sorted(frame["source_dataset"].unique()) if "source_dataset" in frame.columns else []
    if len(datasets) > 2:
        raise ValueError(
            f"the prediction holds records of {len(datasets)} inputs; a resolve output holds one or two"
        )
    repeated = int(frame.duplicated(subset=keys).sum())
    if repeated:
        raise ValueError(f"the prediction lists {repeated} record(s) more than once; give one row per record")
    return frame, datasets


def _ids_repeat(prediction: pd.DataFrame, datasets: list[str], needed: str) -> ValueError | None:
    """The error to raise when record ids alone cannot tell the prediction's records apart."""
    repeated = int(prediction["record_id"].duplicated().sum())
    if not repeated:
        return None
    return ValueError(
        f"record ids repeat across the linked inputs {', '.join(datasets)} ({repeated:,} ids are in both), "
        f"so the truth must say which input each record is from: add {needed} holding "
        f"{' or '.join(datasets)} as the assignments do"
    )


def _linkable_persons(joined: pd.DataFrame) -> pd.DataFrame:
    """Persons with records in one input only become one person per record: a link cannot join them."""
    spans = joined.groupby("person_id")["source_dataset"].transform("nunique")
    own = "\x1f" + joined["source_dataset"] + "\x1f" + joined["record_id"]
    return joined.assign(person_id=joined["person_id"].where(spans > 1, own))


def _evaluation(
    joined: pd.DataFrame, sizes: tuple[int, int], across: bool, pair_counts: tuple[int, int, int]
) -> Evaluation:
    predicted_records, truth_records = sizes
    true_pairs, predicted_pairs, tp = pair_counts
    precision = tp / predicted_pairs if predicted_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    return Evaluation(
        records=len(joined),
        predicted_records=predicted_records,
        truth_records=truth_records,
        coverage_of_predicted=_ratio(len(joined), predicted_records),
        coverage_of_truth=_ratio(len(joined), truth_records),
        across_inputs_only=across,
        true_pairs=true_pairs,
        predicted_pairs=predicted_pairs,
        true_positive_pairs=tp,
        precision=precision,
        recall=recall,
        f1=_f1(precision, recall),
        **_cluster_figures(joined),
    )


def evaluate_clusters(predicted: pd.DataFrame, truth: pd.DataFrame) -> Evaluation:
    """Compare predicted customers with true persons over the records both know.

    Args:
        predicted: ``record_id, customer_id``, with ``source_dataset`` for a resolve output (two
            values when it links two inputs).
        truth: ``record_id, person_id``, with ``source_dataset`` when record ids repeat across
            linked inputs.

    Returns:
        Pairwise and B-cubed scores, over-merge and split rates, and the coverage of each side.

    Raises:
        ValueError: The truth shares no record with the prediction, gives a record two persons,
            cannot tell linked inputs' records apart, or covers one of two linked inputs only; or the
            prediction lists a record twice.
    """
    prediction, datasets = _prediction(predicted)
    if "source_dataset" in prediction.columns and "source_dataset" in truth.columns:
        keys = ["source_dataset", "record_id"]
    else:
        keys = ["record_id"]
        if datasets and (error := _ids_repeat(prediction, datasets, "a source_dataset column")):
            raise error
    persons = truth[[*keys, "person_id"]].astype("string").dropna().drop_duplicates()
    conflicting = int(persons.duplicated(subset=keys).sum())
    if conflicting:
        raise ValueError(
            f"the truth gives {conflicting} record{'' if conflicting == 1 else 's'} more than one person"
        )
    joined = prediction.merge(persons, on=keys)
    if joined.empty:
        raise ValueError(
            f"none of the {len(persons):,} truth records is among the {len(prediction):,} predicted records "
            f"(matched on {' and '.join(keys)}); the truth must name records by the prediction's ids"
        )
    across = len(datasets) == 2
    if across:
        covered = sorted(joined["source_dataset"].unique())
        if len(covered) < 2:
            raise ValueError(
                f"the truth covers records of {covered[0]} only; a link is scored on pairs across the two "
                "inputs, so the truth must cover records of both"
            )
    pair_counts = (
        _pair_count(joined, ["person_id"], across),
        _pair_count(joined, ["customer_id"], across),
        _pair_count(joined, ["customer_id", "person_id"], across),
    )
    clusters = _linkable_persons(joined) if across else joined
    return _evaluation(clusters, (len(prediction), len(persons)), across, pair_counts)


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
    connected components of the labelled matches as the true persons (see the module notes). A pair
    counts once whichever way round it is labelled.

    Args:
        predicted: ``record_id, customer_id``, with ``source_dataset`` for a resolve output.
        pairs: ``record_id_l, record_id_r, is_match`` (true/false, 1/0 or yes/no), with
            ``source_dataset_l, source_dataset_r`` when record ids repeat across linked inputs.

    Returns:
        Pairwise and B-cubed scores, over-merge and split rates, over the records both know, and the
        coverage of each side.

    Raises:
        ValueError: A column is missing, a label is not a boolean, a pair is labelled both ways, the
            records cannot be told apart, or no labelled pair has both records in the prediction.
    """
    missing = [c for c in PAIR_COLUMNS if c not in pairs.columns]
    if missing:
        raise ValueError(f"labelled pairs need columns {list(PAIR_COLUMNS)}; missing {missing}")
    prediction, datasets = _prediction(predicted)
    by_dataset = "source_dataset" in prediction.columns and set(DATASET_PAIR_COLUMNS) <= set(pairs.columns)
    if by_dataset:
        key = prediction["source_dataset"] + "\x1f" + prediction["record_id"]
        sides = [
            pairs[f"source_dataset_{s}"].astype("string") + "\x1f" + pairs[f"record_id_{s}"] for s in "lr"
        ]
    else:
        if datasets and (
            error := _ids_repeat(prediction, datasets, ", ".join(DATASET_PAIR_COLUMNS) + " columns")
        ):
            raise error
        key = prediction["record_id"]
        sides = [pairs[f"record_id_{s}"] for s in "lr"]
    customer_of = pd.Series(prediction["customer_id"].to_numpy(), index=key.to_numpy(), dtype="string")
    left, right = (side.astype("string") for side in sides)
    labelled = pd.DataFrame(
        {
            "record_id_l": left.where(left <= right, right),
            "record_id_r": right.where(left <= right, left),
            "is_match": _labels(pairs["is_match"]),
        }
    ).dropna(subset=["record_id_l", "record_id_r"])
    truth_records = len(set(labelled["record_id_l"]) | set(labelled["record_id_r"]))
    both_ways = int((labelled.groupby(["record_id_l", "record_id_r"])["is_match"].nunique() > 1).sum())
    if both_ways:
        raise ValueError(f"{both_ways} pair(s) are labelled both a match and a non-match")
    labelled = labelled.drop_duplicates(subset=["record_id_l", "record_id_r"])
    known = labelled["record_id_l"].isin(customer_of.index) & labelled["record_id_r"].isin(customer_of.index)
    if not known.any():
        raise ValueError(
            f"none of the {len(labelled):,} labelled pairs has both records in the prediction "
            f"({len(prediction):,} records); the pairs must name records by the prediction's ids"
        )
    labelled = labelled[known]
    across = len(datasets) == 2
    if across:
        dataset_of = pd.Series(prediction["source_dataset"].to_numpy(), index=customer_of.index)
        labelled = labelled[
            labelled["record_id_l"].map(dataset_of).to_numpy()
            != labelled["record_id_r"].map(dataset_of).to_numpy()
        ]
        if labelled.empty:
            raise ValueError(
                "every labelled pair lies within one input; a link is scored on pairs across the two inputs"
            )
    together = (
        labelled["record_id_l"].map(customer_of).to_numpy()
        == labelled["record_id_r"].map(customer_of).to_numpy()
    )
    pair_counts = (
        int(labelled["is_match"].sum()),
        int(together.sum()),
        int((together & labelled["is_match"]).sum()),
    )
    nodes = pd.Series(sorted(set(labelled["record_id_l"]) | set(labelled["record_id_r"])), dtype="string")
    with duckdb.connect() as con:
        person_of = connected_components(con, nodes, labelled[labelled["is_match"]])
    joined = pd.DataFrame({"record_id": nodes, "person_id": nodes.map(person_of)})
    joined["customer_id"] = joined["record_id"].map(customer_of)
    return _evaluation(joined, (len(prediction), truth_records), across, pair_counts)
