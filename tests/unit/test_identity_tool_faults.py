"""Inputs a new user gave the resolve tool that crashed it or were silently mis-read."""

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from identity import ToolInputError, resolve_file, resolve_frame
from orchestration.cli import app
from tests.unit.test_identity_tool import MAPPING as SIXTEEN_MAPPING
from tests.unit.test_identity_tool import PEOPLE as SIXTEEN_PEOPLE

NAMES = pd.DataFrame(
    {
        "f": ["John", "John", "Mary", "Peter", "Anna", "Olivia"],
        "s": ["Smith", "Smith", "Jones", "Brown", "Taylor", "Wilson"],
    }
)
PEOPLE = """id,fname,sname,email,town
1,John,Smith,john@mail.net,London
2,Mary,Jones,mary@mail.net,Leeds
3,Mary,Jones,mary@mail.net,Leeds
4,Peter,Brown,peter@mail.net,York
5,Peter,Brown,pbrown@work.org,York
6,Anna,Wilson,anna@mail.net,Bath
"""
OTHER = """id,fname,sname,email,town
1,Jon,Smith,john@mail.net,London
2,Peter,Brown,peter@mail.net,York
"""
MAPPING = {"record_id": "id", "first_name": "fname", "last_name": "sname", "email": "email", "city": "town"}


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    people, other = tmp_path / "people.csv", tmp_path / "other.csv"
    people.write_text(PEOPLE, encoding="utf-8")
    other.write_text(OTHER, encoding="utf-8")
    return people, other


def _flat(text: str) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(text.split())


def _customer_of(assignments: pd.DataFrame) -> dict[str, str]:
    return dict(zip(assignments["record_id"], assignments["customer_id"], strict=True))


def test_names_only_mapping_trains_and_resolves():
    result = resolve_frame(NAMES, {"first_name": "f", "last_name": "s"}, pair_threshold=0.0)
    customer = _customer_of(result.assignments)

    assert result.stats["compared_fields"] == ["first_name", "last_name"]
    # The only two rows sharing a whole name are the only candidate pair, and the best-scored.
    assert list(zip(result.pairs["record_id_l"], result.pairs["record_id_r"], strict=True))[0] == ("1", "2")
    assert len({customer[r] for r in ["3", "4", "5", "6"]}) == 4
    assert customer["1"] not in {customer[r] for r in ["3", "4", "5", "6"]}


@pytest.mark.parametrize(
    ("frame", "mapping"),
    [
        (pd.DataFrame({"n": ["Ann Xu", "Ann Xu", "Bob Yates", "Cid Zorn"]}), {"full_name": "n"}),
        (pd.DataFrame({"e": ["a@x.io", "A@x.io ", "b@y.io", "c@z.io"]}), {"email": "e"}),
        (
            pd.DataFrame({"p": ["+44 7700 900123", "+44 7700 900123", "+44 7700 900999", "+1 212 555 0100"]}),
            {"phone": "p"},
        ),
    ],
    ids=["full_name_only", "email_only", "phone_only"],
)
def test_one_comparison_mappings_resolve(frame: pd.DataFrame, mapping: dict):
    result = resolve_frame(frame, mapping, pair_threshold=0.0)

    assert result.stats["records"] == 4
    # Rows 1 and 2 are the only ones sharing their value: they are the only candidate pair.
    assert list(zip(result.pairs["record_id_l"], result.pairs["record_id_r"], strict=True))[:1] == [
        ("1", "2")
    ]
    customer = _customer_of(result.assignments)
    assert customer["3"] != customer["4"] and customer["1"] not in {customer["3"], customer["4"]}


def test_every_record_sharing_one_email_does_not_break_training():
    frame = pd.DataFrame({"f": ["Ann", "Ann", "Ann"], "s": ["Xu", "Xu", "Xu"], "e": ["a@x.io"] * 3})

    result = resolve_frame(frame, {"first_name": "f", "last_name": "s", "email": "e"})

    assert result.stats["customers"] == 1 and result.stats["deterministic_links"] == 3


def test_dedupe_model_given_for_a_link_is_refused(files: tuple[Path, Path], tmp_path: Path):
    people, other = files
    dedupe = resolve_file(people, MAPPING)
    model = tmp_path / "dedupe_model.json"
    model.write_text(json.dumps(dedupe.model), encoding="utf-8")

    with pytest.raises(ToolInputError, match=r"dedupe_model\.json: was trained to deduplicate one file"):
        resolve_file(people, MAPPING, other_path=other, model_path=model)
    linked = resolve_file(people, MAPPING, other_path=other)
    with pytest.raises(ToolInputError, match="was trained to link two files"):
        resolve_frame(pd.read_csv(people, dtype="string"), MAPPING, model=linked.model)

    cli = CliRunner().invoke(
        app,
        [
            "identity",
            "resolve",
            str(people),
            "--link",
            str(other),
            "--model",
            str(model),
            "--out",
            str(tmp_path / "out.csv"),
            *[f"--map={f}={c}" for f, c in MAPPING.items()],
        ],
    )
    assert cli.exit_code == 2, cli.output
    assert "trained to deduplicate one file" in _flat(cli.output) and isinstance(cli.exception, SystemExit)
    assert not (tmp_path / "out.csv").exists()


def test_model_comparing_a_field_the_mapping_lacks_is_refused(files: tuple[Path, Path], tmp_path: Path):
    people, _ = files
    model = tmp_path / "model.json"
    model.write_text(json.dumps(resolve_file(people, MAPPING).model), encoding="utf-8")
    without_city = {k: v for k, v in MAPPING.items() if k != "city"}

    with pytest.raises(ToolInputError, match=r"model\.json: compares .*city.*; the mapping has no city"):
        resolve_file(people, without_city, model_path=model)

    cli = CliRunner().invoke(
        app,
        [
            "identity",
            "resolve",
            str(people),
            "--model",
            str(model),
            "--out",
            str(tmp_path / "o.csv"),
            *[f"--map={f}={c}" for f, c in without_city.items()],
        ],
    )
    assert cli.exit_code == 2 and "the mapping has no city" in _flat(cli.output), cli.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"bad\.json: is not JSON"),
        ('{"link_type": "dedupe_only"}', r"bad\.json: is not a model saved by .*--model-out"),
        (
            json.dumps({"link_type": "dedupe_only", "unique_id_column_name": "record_id", "comparisons": []}),
            r"bad\.json: is not a model saved by .*--model-out",
        ),
    ],
)
def test_unusable_model_files_are_named(files: tuple[Path, Path], tmp_path: Path, content: str, message: str):
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(ToolInputError, match=message):
        resolve_file(files[0], MAPPING, model_path=bad)


def test_linking_a_file_to_itself_is_refused(files: tuple[Path, Path], tmp_path: Path):
    people, _ = files
    same = tmp_path / "." / "people.csv"

    with pytest.raises(ToolInputError, match=r"people\.csv: is both the input and the --link file"):
        resolve_file(people, MAPPING, other_path=same)
    with pytest.raises(ToolInputError, match="both inputs are named 'a'"):
        resolve_frame(
            pd.read_csv(people, dtype="string"), MAPPING, other=pd.read_csv(people), names=("a", "a")
        )


def test_two_copies_of_a_file_link_record_to_record(files: tuple[Path, Path], tmp_path: Path):
    people, _ = files
    copy = tmp_path / "copy" / "people.csv"
    copy.parent.mkdir()
    copy.write_text(PEOPLE, encoding="utf-8")

    result = resolve_file(people, MAPPING, other_path=copy)
    assignments = result.assignments.set_index(["source_dataset", "record_id"])["customer_id"]

    # The same file name in two folders: the inputs are told apart by their paths.
    assert set(result.assignments["source_dataset"]) == {str(people), str(copy)}
    assert assignments[(str(people), "1")] == assignments[(str(copy), "1")]
    assert assignments[(str(people), "1")] != assignments[(str(people), "4")]


def test_blank_record_ids_are_named(files: tuple[Path, Path], tmp_path: Path):
    blank = tmp_path / "blank.csv"
    blank.write_text(PEOPLE.replace("\n3,", "\n,"), encoding="utf-8")

    with pytest.raises(
        ToolInputError, match=r"blank\.csv: record id column 'id' is empty in row 3 after the header"
    ):
        resolve_file(blank, MAPPING)


def test_pair_threshold_above_the_link_threshold_loses_no_links():
    frame = pd.read_csv(io.StringIO(SIXTEEN_PEOPLE), dtype="string")
    low = resolve_frame(frame, SIXTEEN_MAPPING, pair_threshold=0.0)
    # Mary Jones with another email: a model link above the 0.95 threshold but below 1.
    model_links = low.pairs[(low.pairs["rule"] == "model") & low.pairs["is_linked"]].set_index(
        ["record_id_l", "record_id_r"]
    )
    assert model_links.loc[("3", "4"), "match_probability"] < 1.0

    high = resolve_frame(frame, SIXTEEN_MAPPING, pair_threshold=1.0, model=low.model)

    pd.testing.assert_series_equal(low.assignments["customer_id"], high.assignments["customer_id"])
    assert high.stats["links"] == low.stats["links"] == high.pairs["is_linked"].sum()
    unlinked = high.pairs[~high.pairs["is_linked"]]
    assert (unlinked["match_probability"] >= 1.0).all()

    certain = resolve_frame(frame, SIXTEEN_MAPPING, threshold=1.0, pair_threshold=1.0, model=low.model)
    scored = low.pairs[low.pairs["rule"] == "model"]
    expected = low.stats["deterministic_links"] + int((scored["match_probability"] >= 1.0).sum())
    assert certain.stats["links"] == expected < low.stats["links"]


def test_previous_file_with_repeated_records_is_named(files: tuple[Path, Path], tmp_path: Path):
    people, _ = files
    previous = tmp_path / "previous.csv"
    previous.write_text(
        "source_dataset,record_id,customer_id\npeople.csv,1,cus_a\npeople.csv,1,cus_b\n", encoding="utf-8"
    )

    with pytest.raises(
        ToolInputError, match=r"previous\.csv: lists one record twice \(row 2 after the header\)"
    ):
        resolve_file(people, MAPPING, previous_path=previous)


def test_unwritable_output_is_named(files: tuple[Path, Path], tmp_path: Path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder", encoding="utf-8")

    with pytest.raises(ToolInputError, match=r"blocker/out\.csv: cannot write it"):
        resolve_file(files[0], MAPPING, out=blocker / "out.csv")


def test_outputs_never_overwrite_an_input(files: tuple[Path, Path], tmp_path: Path):
    people, other = files

    for out, pairs_out in (
        (people, None),
        (tmp_path / "o.csv", other),
        (tmp_path / "o.csv", tmp_path / "o.csv"),
    ):
        with pytest.raises(ToolInputError, match="is also an input or the other output of this run"):
            resolve_file(people, MAPPING, other_path=other, out=out, pairs_out=pairs_out)
    assert people.read_text(encoding="utf-8") == PEOPLE and other.read_text(encoding="utf-8") == OTHER
