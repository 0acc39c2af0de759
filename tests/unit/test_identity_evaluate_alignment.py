"""Evaluation refuses truth that does not line up with the prediction, reports coverage and scores
link runs across the two inputs only."""

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from identity import evaluate_clusters, evaluate_pairs
from orchestration.cli import app
from orchestration.runner import evaluate_against_truth


def _frame(rows: list[tuple], columns: str) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns.split(","))


# Two linked files whose ids repeat: a.csv 1 and b.csv 1 are Ann; a.csv 2 and b.csv 2 are Bob;
# a.csv 3 is Cid, in one file only. The prediction is perfect.
LINKED = _frame(
    [("a.csv", "1", "X"), ("a.csv", "2", "Y"), ("a.csv", "3", "Z"), ("b.csv", "1", "X"), ("b.csv", "2", "Y")],
    "source_dataset,record_id,customer_id",
)
LINKED_TRUTH = _frame(
    [
        ("a.csv", "1", "ann"),
        ("a.csv", "2", "bob"),
        ("a.csv", "3", "cid"),
        ("b.csv", "1", "ann"),
        ("b.csv", "2", "bob"),
    ],
    "source_dataset,record_id,person_id",
)


def test_ids_repeating_across_linked_files_are_scored_per_file():
    result = evaluate_clusters(LINKED, LINKED_TRUTH)

    assert (result.records, result.true_pairs, result.predicted_pairs, result.true_positive_pairs) == (
        5,
        2,
        2,
        2,
    )
    assert (result.f1, result.bcubed_f1, result.split_rate, result.over_merge_rate) == (1.0, 1.0, 0.0, 0.0)
    assert result.across_inputs_only is True


def test_ids_repeating_across_linked_files_need_the_file_in_the_truth():
    truth = LINKED_TRUTH.drop(columns=["source_dataset"]).drop_duplicates("record_id")

    with pytest.raises(
        ValueError, match=r"record ids repeat across the linked inputs a\.csv, b\.csv.*source_dataset"
    ):
        evaluate_clusters(LINKED, truth)


def test_link_runs_count_pairs_across_the_files_only():
    # Dan has two rows in a.csv and one in b.csv; the link run put all three in one customer. The
    # within-file pair (a.csv 4, a.csv 5) is no link the run could make or miss.
    predicted = pd.concat(
        [
            LINKED,
            _frame(
                [("a.csv", "4", "W"), ("a.csv", "5", "W"), ("b.csv", "4", "W")],
                "source_dataset,record_id,customer_id",
            ),
        ]
    )
    truth = pd.concat(
        [
            LINKED_TRUTH,
            _frame(
                [("a.csv", "4", "dan"), ("a.csv", "5", "dan"), ("b.csv", "4", "dan")],
                "source_dataset,record_id,person_id",
            ),
        ]
    )

    result = evaluate_clusters(predicted, truth)

    # Cross-file pairs: Ann 1, Bob 1, Dan 2.
    assert (result.true_pairs, result.predicted_pairs, result.true_positive_pairs) == (4, 4, 4)
    assert result.f1 == 1.0


def test_link_run_missing_a_within_file_duplicate_is_not_penalised():
    # Cid has two rows in a.csv and none in b.csv: a link run never joins them.
    predicted = pd.concat([LINKED, _frame([("a.csv", "9", "V")], "source_dataset,record_id,customer_id")])
    truth = pd.concat([LINKED_TRUTH, _frame([("a.csv", "9", "cid")], "source_dataset,record_id,person_id")])

    result = evaluate_clusters(predicted, truth)

    assert (result.true_pairs, result.recall, result.bcubed_recall, result.split_persons) == (2, 1.0, 1.0, 0)


def test_truth_matching_no_record_is_refused():
    predicted = _frame([("1", "X"), ("2", "X")], "record_id,customer_id")
    truth = _frame([("crm:1", "p"), ("crm:2", "q")], "record_id,person_id")

    with pytest.raises(ValueError, match=r"none of the 2 truth records is among the 2 predicted records"):
        evaluate_clusters(predicted, truth)
    pairs = _frame([("crm:1", "crm:2", "no")], "record_id_l,record_id_r,is_match")
    with pytest.raises(ValueError, match=r"none of the 1 labelled pairs has both records in the prediction"):
        evaluate_pairs(predicted, pairs)


def test_partial_truth_reports_its_coverage():
    # Records 1-4 in two customers; the truth knows records 1 and 2 only, plus one record never predicted.
    predicted = _frame([("1", "X"), ("2", "X"), ("3", "Y"), ("4", "Y")], "record_id,customer_id")
    truth = _frame([("1", "p"), ("2", "p"), ("7", "q")], "record_id,person_id")

    result = evaluate_clusters(predicted, truth)

    assert (result.records, result.predicted_records, result.truth_records) == (2, 4, 3)
    assert result.coverage_of_predicted == 0.5
    assert result.coverage_of_truth == pytest.approx(2 / 3)


def test_truth_giving_a_record_two_persons_is_refused():
    predicted = _frame([("1", "X"), ("2", "X")], "record_id,customer_id")
    truth = _frame([("1", "p"), ("1", "q"), ("2", "p")], "record_id,person_id")

    with pytest.raises(ValueError, match="gives 1 record more than one person"):
        evaluate_clusters(predicted, truth)


def test_link_truth_covering_one_file_only_is_refused():
    truth = LINKED_TRUTH[LINKED_TRUTH["source_dataset"] == "a.csv"]

    with pytest.raises(ValueError, match=r"covers records of a\.csv only.*pairs across the two inputs"):
        evaluate_clusters(LINKED, truth)


def test_labelled_pairs_of_a_link_run_use_the_file_and_skip_within_file_pairs():
    pairs = _frame(
        [
            ("a.csv", "1", "b.csv", "1", "yes"),
            ("b.csv", "2", "a.csv", "2", "yes"),
            ("a.csv", "1", "a.csv", "3", "no"),
            ("a.csv", "3", "b.csv", "2", "no"),
        ],
        "source_dataset_l,record_id_l,source_dataset_r,record_id_r,is_match",
    )

    result = evaluate_pairs(LINKED, pairs)

    assert (result.true_pairs, result.predicted_pairs, result.true_positive_pairs) == (2, 2, 2)
    assert (result.precision, result.recall) == (1.0, 1.0)
    assert result.across_inputs_only is True
    with pytest.raises(ValueError, match="source_dataset_l, source_dataset_r"):
        evaluate_pairs(LINKED, pairs.drop(columns=["source_dataset_l", "source_dataset_r"]))


def _flat(text: str) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(text.split())


@pytest.fixture
def link_output(tmp_path: Path) -> Path:
    path = tmp_path / "linked.csv"
    LINKED.assign(cluster_size=1, match_probability=1.0).to_csv(path, index=False)
    return path


def test_runner_refuses_warehouse_keys_for_a_resolve_output(tmp_path: Path, link_output: Path):
    truth = tmp_path / "truth.csv"
    truth.write_text("source,source_record_id,person_id\ncrm,1,ann\n", encoding="utf-8")

    with pytest.raises(ValueError, match=r"truth\.csv: keys records by source, source_record_id .*--id"):
        evaluate_against_truth(tmp_path / "no.duckdb", truth, predicted_path=link_output)


def test_cli_evaluate_takes_the_truth_id_and_file_columns(tmp_path: Path, link_output: Path):
    truth = tmp_path / "truth.csv"
    LINKED_TRUTH.rename(columns={"record_id": "member_no", "source_dataset": "file"}).to_csv(
        truth, index=False
    )

    ok = CliRunner().invoke(
        app,
        [
            "identity",
            "evaluate",
            "--truth",
            str(truth),
            "--predicted",
            str(link_output),
            "--id",
            "member_no",
            "--dataset-column",
            "file",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert '"f1": 1.0' in ok.output and '"coverage_of_predicted": 1.0' in ok.output

    without_file = CliRunner().invoke(
        app,
        ["identity", "evaluate", "--truth", str(truth), "--predicted", str(link_output), "--id", "member_no"],
    )
    assert without_file.exit_code == 2
    assert "record ids repeat across the linked inputs" in _flat(without_file.output)


def test_cli_evaluate_warns_about_partial_coverage(tmp_path: Path, link_output: Path):
    truth = tmp_path / "truth.csv"
    LINKED_TRUTH[LINKED_TRUTH["record_id"] != "2"].to_csv(truth, index=False)

    result = CliRunner().invoke(
        app, ["identity", "evaluate", "--truth", str(truth), "--predicted", str(link_output)]
    )

    assert result.exit_code == 0, result.output
    assert '"coverage_of_predicted": 0.6' in result.output
    assert "the truth covers 3 of the 5 predicted records" in _flat(result.stderr)
