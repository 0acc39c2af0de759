"""Customer ids persist across runs: carried over by largest overlap, never reused for two customers."""

import pandas as pd

from identity import evaluate_clusters
from identity._ids import assign_customer_ids


def _clusters(mapping: dict[str, str]) -> pd.Series:
    return pd.Series(mapping, dtype="string").rename_axis("record_id")


def _previous(mapping: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"record_id": list(mapping), "customer_id": list(mapping.values())})


def _ids(result: pd.DataFrame) -> dict[str, str]:
    return dict(zip(result["record_id"], result["customer_id"], strict=True))


def test_first_run_mints_one_id_per_cluster():
    ids = _ids(assign_customer_ids(_clusters({"a": "k1", "b": "k1", "c": "k2"}), None))
    assert ids["a"] == ids["b"] != ids["c"]
    assert all(v.startswith("cus_") and len(v) == 20 for v in ids.values())


def test_rerun_with_a_new_record_keeps_every_id():
    previous = _previous({"a": "cus_A", "b": "cus_A", "c": "cus_B"})
    ids = _ids(assign_customer_ids(_clusters({"a": "x", "b": "x", "d": "x", "c": "y"}), previous))
    assert ids == {"a": "cus_A", "b": "cus_A", "d": "cus_A", "c": "cus_B"}


def test_merge_keeps_the_id_of_the_larger_overlap():
    previous = _previous({"a": "cus_A", "b": "cus_A", "c": "cus_B"})
    ids = _ids(assign_customer_ids(_clusters({"a": "x", "b": "x", "c": "x"}), previous))
    assert set(ids.values()) == {"cus_A"}


def test_split_gives_the_old_id_to_one_part_and_a_new_id_to_the_other():
    previous = _previous({"a": "cus_A", "b": "cus_A"})
    ids = _ids(assign_customer_ids(_clusters({"a": "x", "b": "y"}), previous))
    assert ids["a"] == "cus_A"  # tie on overlap: the part holding the smallest record id keeps it
    assert ids["b"] not in {"cus_A"} and ids["b"].startswith("cus_")


def test_cluster_keys_do_not_leak_into_ids():
    ids = _ids(assign_customer_ids(_clusters({"crm_contacts:1": "crm_contacts:1"}), None))
    assert "crm" not in ids["crm_contacts:1"]


def test_pairwise_evaluation_by_hand():
    predicted = pd.DataFrame({"record_id": list("abcde"), "customer_id": ["X", "X", "X", "Y", "Z"]})
    truth = pd.DataFrame({"record_id": list("abcde"), "person_id": ["1", "1", "2", "3", "3"]})
    result = evaluate_clusters(predicted, truth)
    # predicted pairs: ab ac bc = 3; true pairs: ab de = 2; both: ab = 1
    assert (result.predicted_pairs, result.true_pairs, result.true_positive_pairs) == (3, 2, 1)
    assert result.precision == 1 / 3
    assert result.recall == 1 / 2
    assert result.f1 == 0.4
