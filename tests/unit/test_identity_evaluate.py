"""Evaluation figures against hand-computed values: pairwise, B-cubed, over-merge and split rates."""

import pandas as pd
import pytest

from identity import evaluate_clusters, evaluate_pairs


def _assignments(clusters: dict[str, list[str]], column: str) -> pd.DataFrame:
    rows = [(record, key) for key, records in clusters.items() for record in records]
    return pd.DataFrame(rows, columns=["record_id", column])


def test_bcubed_and_rates_match_hand_computation():
    # Person A = {1,2,3,4}, person B = {5}; predicted X = {1,2}, Y = {3,4,5}.
    # B-cubed precision per record: 1, 1, 2/3, 2/3, 1/3 → 11/15; recall: 1/2 ×4, 1 → 3/5.
    # Pairs: predicted 1 + 3 = 4, true 6, both (1,2) and (3,4) = 2.
    truth = _assignments({"A": ["1", "2", "3", "4"], "B": ["5"]}, "person_id")
    predicted = _assignments({"X": ["1", "2"], "Y": ["3", "4", "5"]}, "customer_id")

    result = evaluate_clusters(predicted, truth)

    assert result.records == 5
    assert (result.predicted_pairs, result.true_pairs, result.true_positive_pairs) == (4, 6, 2)
    assert result.precision == pytest.approx(0.5)
    assert result.recall == pytest.approx(1 / 3)
    assert result.bcubed_precision == pytest.approx(11 / 15)
    assert result.bcubed_recall == pytest.approx(3 / 5)
    assert result.bcubed_f1 == pytest.approx(0.66)
    assert (result.over_merged_customers, result.over_merge_rate) == (1, 0.5)
    assert (result.split_persons, result.split_rate) == (1, 0.5)


def test_perfect_clustering_scores_one_and_singletons_lose_recall_only():
    truth = _assignments({"A": ["1", "2", "3"], "B": ["4"]}, "person_id")

    perfect = evaluate_clusters(_assignments({"X": ["1", "2", "3"], "Y": ["4"]}, "customer_id"), truth)
    singletons = evaluate_clusters(_assignments({r: [r] for r in ["1", "2", "3", "4"]}, "customer_id"), truth)

    assert (perfect.bcubed_precision, perfect.bcubed_recall, perfect.bcubed_f1) == (1.0, 1.0, 1.0)
    assert (perfect.over_merge_rate, perfect.split_rate) == (0.0, 0.0)
    assert singletons.bcubed_precision == 1.0
    # Records 1-3 each hold 1/3 of person A; record 4 all of B: (3 × 1/3 + 1) / 4.
    assert singletons.bcubed_recall == pytest.approx(0.5)
    assert (singletons.split_persons, singletons.split_rate, singletons.over_merge_rate) == (1, 0.5, 0.0)


def test_records_missing_from_either_side_are_not_scored():
    truth = _assignments({"A": ["1", "2"], "B": ["9"]}, "person_id")
    predicted = _assignments({"X": ["1", "2"], "Z": ["7"]}, "customer_id")

    result = evaluate_clusters(predicted, truth)

    assert (result.records, result.customers, result.persons) == (2, 1, 1)
    assert result.bcubed_f1 == 1.0


def test_labelled_pairs_give_pairwise_and_cluster_figures():
    predicted = _assignments({"X": ["a", "b"], "Y": ["c"], "Z": ["d"]}, "customer_id")
    pairs = pd.DataFrame(
        {
            "record_id_l": ["a", "a", "b", "c", "a"],
            "record_id_r": ["b", "c", "d", "d", "unknown"],
            "is_match": ["true", "1", "false", "no", "yes"],
        }
    )

    result = evaluate_pairs(predicted, pairs)

    # (a,b) match kept together; (a,c) match split; non-matches kept apart; the unknown record ignored.
    assert (result.true_pairs, result.predicted_pairs, result.true_positive_pairs) == (2, 1, 1)
    assert (result.precision, result.recall) == (1.0, 0.5)
    # True persons = components of the matches: {a,b,c}, {d}. Recall: (2/3 + 2/3 + 1/3 + 1) / 4.
    assert result.records == 4
    assert result.bcubed_precision == 1.0
    assert result.bcubed_recall == pytest.approx(2 / 3)
    assert (result.split_persons, result.split_rate) == (1, 0.5)


def test_labelled_non_match_in_one_customer_is_an_over_merge():
    predicted = _assignments({"X": ["a", "b"]}, "customer_id")
    pairs = pd.DataFrame({"record_id_l": ["a"], "record_id_r": ["b"], "is_match": [False]})

    result = evaluate_pairs(predicted, pairs)

    assert (result.predicted_pairs, result.true_positive_pairs, result.precision) == (1, 0, 0.0)
    assert (result.over_merged_customers, result.over_merge_rate) == (1, 1.0)
    assert result.bcubed_precision == pytest.approx(0.5)


def test_bad_pair_labels_are_named():
    predicted = _assignments({"X": ["a", "b"]}, "customer_id")
    with pytest.raises(ValueError, match="is_match .* 'maybe'"):
        evaluate_pairs(
            predicted, pd.DataFrame({"record_id_l": ["a"], "record_id_r": ["b"], "is_match": ["maybe"]})
        )
    with pytest.raises(ValueError, match="missing \\['is_match'\\]"):
        evaluate_pairs(predicted, pd.DataFrame({"record_id_l": ["a"], "record_id_r": ["b"]}))
