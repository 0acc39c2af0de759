"""Customer ids of the resolve tool: the same input gives the same ids; --previous carries them over."""

import hashlib
from pathlib import Path

import pandas as pd

from identity import resolve_file, resolve_frame

FRAME = pd.DataFrame(
    {
        "id": ["a", "b", "c", "d"],
        "first": ["Mary", "Mary", "John", "Anna"],
        "last": ["Jones", "Jones", "Smith", "Brown"],
        "mail": ["mary@x.org", "mary@x.org", "john@y.org", "anna@z.org"],
    }
)
MAPPING = {"record_id": "id", "first_name": "first", "last_name": "last", "email": "mail"}


def _ids(result) -> dict[str, str]:
    return dict(zip(result.assignments["record_id"], result.assignments["customer_id"], strict=True))


def _hashed(key: str, attempt: int = 0) -> str:
    return "cus_" + hashlib.sha256(f"{key}\x1f{attempt}".encode()).hexdigest()[:16]


def test_reruns_of_the_same_input_give_the_same_ids():
    first, second = resolve_frame(FRAME, MAPPING), resolve_frame(FRAME.iloc[::-1], MAPPING)

    assert _ids(first) == _ids(second)
    ids = _ids(first)
    assert ids["a"] == ids["b"] and len({ids["a"], ids["c"], ids["d"]}) == 3
    # Derived from the cluster's smallest record id, hashed: the id does not show the record id.
    assert ids["a"] == _hashed("a")


def test_a_new_record_leaves_the_other_customers_ids_alone():
    grown = pd.concat(
        [FRAME, pd.DataFrame({"id": ["e"], "first": ["Zoe"], "last": ["Clarke"], "mail": ["z@q.org"]})]
    )

    before, after = _ids(resolve_frame(FRAME, MAPPING)), _ids(resolve_frame(grown, MAPPING))

    assert {r: after[r] for r in before} == before
    assert after["e"] not in before.values()


def test_previous_carries_an_id_to_a_cluster_whose_smallest_record_changed(tmp_path: Path):
    # Record "a" leaves; without --previous Mary's id would follow her new smallest record "b".
    first_path, second_path, old = tmp_path / "first.csv", tmp_path / "second.csv", tmp_path / "old.csv"
    FRAME.to_csv(first_path, index=False)
    FRAME[FRAME["id"] != "a"].to_csv(second_path, index=False)
    first = resolve_file(first_path, MAPPING, out=old)

    fresh = _ids(resolve_file(second_path, MAPPING))
    carried = _ids(resolve_file(second_path, MAPPING, previous_path=old))

    assert fresh["b"] != _ids(first)["b"]
    assert carried["b"] == _ids(first)["b"]
    assert carried["c"] == _ids(first)["c"] == fresh["c"]


def test_a_split_cluster_never_gives_two_customers_one_id(tmp_path: Path):
    # a, b and e were one customer under a's id; now b and e (two records) keep it and a, whose hash
    # it is, gets the next one.
    old = tmp_path / "old.csv"
    pd.DataFrame(
        {
            "source_dataset": "x.csv",
            "record_id": ["a", "b", "e", "c", "d"],
            "customer_id": [_hashed("a")] * 3 + [_hashed("c"), _hashed("d")],
        }
    ).to_csv(old, index=False)
    path = tmp_path / "x.csv"
    pd.concat(
        [
            FRAME.assign(
                first=["Mary", "Beth", "John", "Anna"],
                last=["Jones", "Jonas", "Smith", "Brown"],
                mail=["mary@x.org", "beth@w.org", "john@y.org", "anna@z.org"],
            ),
            pd.DataFrame({"id": ["e"], "first": ["Beth"], "last": ["Jonas"], "mail": ["beth@w.org"]}),
        ]
    ).to_csv(path, index=False)

    ids = _ids(resolve_file(path, MAPPING, previous_path=old))

    assert ids["b"] == ids["e"] == _hashed("a")
    assert ids["a"] == _hashed("a", 1)
    assert (ids["c"], ids["d"]) == (_hashed("c"), _hashed("d"))
