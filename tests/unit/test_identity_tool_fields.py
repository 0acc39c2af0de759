"""Extra fields declared in the mapping with a comparison type, and the record id column."""

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from identity import ToolInputError, read_mapping, resolve_file, resolve_frame
from orchestration.cli import app

EXTRAS = {
    "state": ("exact", " N.Y. ", "ny", "CA", "TX"),
    "middle_name": ("name", "Anne-Marie", "anne marie", "Beth", "Joy"),
    "moved_in": ("date", "2001-02-03", "2001/02/03", "2011-09-30", "1999-12-01"),
    "street_number": ("numeric", "12", " 012.0", "14", "7"),
    "zip4": ("postcode", "sw1a 1aa", "SW1A1AA", "EH1 1YZ", "M1 1AE"),
    "address_line_2": ("text", "Flat 2, Rose Court", "flat 2 rose court", "Unit 9", "Suite 4"),
}
# Rows 1 and 2 hold each extra written two ways; row 3 (same name) other values; rows 4 and 5 the
# same values written identically; row 6 is someone else.
FRAME = pd.DataFrame(
    {
        "first": ["Ann", "Ann", "Ann", "Bob", "Bob", "Cid"],
        "last": ["Lee", "Lee", "Lee", "Ray", "Ray", "Orr"],
        **{
            field: [one, other, third, fourth, fourth, None]
            for field, (_, one, other, third, fourth) in EXTRAS.items()
        },
    }
)
MAPPING = {
    "first_name": "first",
    "last_name": "last",
    **{field: {"column": field, "compare": compare} for field, (compare, *_) in EXTRAS.items()},
}


def test_extra_fields_are_compared_after_normalising():
    result = resolve_frame(FRAME, MAPPING, pair_threshold=0.0)
    pairs = result.pairs.set_index(["record_id_l", "record_id_r"])

    assert set(EXTRAS) <= set(result.stats["compared_fields"])
    for field in EXTRAS:
        weight = pairs[f"mw_{field}"]
        # Written two ways (1, 2) weighs as much as written identically (4, 5); other values (1, 3) less.
        assert weight[("1", "2")] == pytest.approx(weight[("4", "5")]), field
        assert weight[("1", "3")] < weight[("1", "2")], field


def test_extra_fields_in_a_yaml_mapping(tmp_path: Path):
    path = tmp_path / "map.yaml"
    path.write_text(
        "first_name: first\nlast_name: last\nstate:\n  column: state\n  compare: exact\n"
        "street_number: {column: street_number, compare: numeric}\n",
        encoding="utf-8",
    )

    mapping = read_mapping(path)

    assert mapping == {
        "first_name": "first",
        "last_name": "last",
        "state": {"column": "state", "compare": "exact"},
        "street_number": {"column": "street_number", "compare": "numeric"},
    }
    assert {"state", "street_number"} <= set(resolve_frame(FRAME, mapping).stats["compared_fields"])


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("state: st", r"field 'state' is not a built-in field; declare how to compare it: .*compare: exact"),
        (
            "state: {column: st, compare: fuzzy}",
            r"field 'state': unknown compare 'fuzzy'; use one of exact, name",
        ),
        (
            "email: {column: e, compare: exact}",
            r"field 'email' is built in and compared its own way; leave out compare",
        ),
        (
            "state: {col: st, compare: exact}",
            r"field 'state': unknown key\(s\) \['col'\]; give column and compare",
        ),
        ("state: {compare: exact}", r"field 'state': no column"),
        ("state: [st, exact]", r"field 'state': give a column name or \{column: \.\.\., compare: \.\.\.\}"),
        (
            "State Code: {column: st, compare: exact}",
            r"field 'State Code': .*lower-case letters, digits and underscores",
        ),
        ("uid: {column: st, compare: exact}", r"field 'uid' is a name the tool uses itself"),
        ("mw_state: {column: st, compare: exact}", r"field 'mw_state' is a name the tool uses itself"),
        ("state_l: {column: st, compare: exact}", r"field 'state_l' is a name the tool uses itself"),
    ],
)
def test_bad_extra_fields_are_named(tmp_path: Path, entry: str, message: str):
    path = tmp_path / "map.yaml"
    path.write_text(f"first_name: first\n{entry}\n", encoding="utf-8")

    with pytest.raises(ToolInputError, match=r"map\.yaml: " + message):
        read_mapping(path)


def test_extra_fields_alone_cannot_find_candidate_pairs():
    with pytest.raises(
        ToolInputError, match="no way to find candidate pairs.*extra fields are compared, not blocked on"
    ):
        resolve_frame(FRAME, {"state": {"column": "state", "compare": "exact"}})


def test_values_that_cannot_be_read_are_counted_per_field():
    frame = FRAME.assign(street_number=["12", "12", "no number", "7", "7", None])

    result = resolve_frame(
        frame, {**MAPPING, "street_number": {"column": "street_number", "compare": "numeric"}}
    )

    assert result.stats["unreadable_values"] == {"street_number": 1}


def _flat(text: str) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(text.split())


PEOPLE = """member_no,fname,sname,email
m1,John,Smith,john@mail.net
m2,Mary,Jones,mary@mail.net
m3,Mary,Jones,mary@mail.net
"""


def test_cli_id_option_names_the_record_id_column(tmp_path: Path):
    people = tmp_path / "people.csv"
    people.write_text(PEOPLE, encoding="utf-8")
    out = tmp_path / "out.csv"

    result = CliRunner().invoke(
        app,
        [
            "identity",
            "resolve",
            str(people),
            "--id",
            "member_no",
            "--map",
            "first_name=fname",
            "--map",
            "last_name=sname",
            "--map",
            "email=email",
            "--out",
            str(out),
        ],
    )

    assert result.exit_code == 0, result.output
    written = pd.read_csv(out, dtype="string")
    assert list(written["record_id"]) == ["m1", "m2", "m3"]
    assert (
        written.set_index("record_id").loc["m2", "customer_id"]
        == written.set_index("record_id").loc["m3", "customer_id"]
    )

    missing = CliRunner().invoke(
        app, ["identity", "resolve", str(people), "--id", "id", "--map", "email=email", "--out", str(out)]
    )
    assert missing.exit_code == 2
    assert "people.csv: has no column 'id' (mapped to record_id)" in _flat(missing.output)


def test_cli_map_overrides_the_column_of_a_yaml_extra_field(tmp_path: Path):
    people = tmp_path / "people.csv"
    people.write_text(
        PEOPLE.replace("email\n", "email,st\n").replace(".org\n", ".org,NY\n"), encoding="utf-8"
    )
    mapping = tmp_path / "map.yaml"
    mapping.write_text("state: {column: wrong, compare: exact}\nemail: email\n", encoding="utf-8")
    out = tmp_path / "out.csv"

    result = CliRunner().invoke(
        app,
        [
            "identity",
            "resolve",
            str(people),
            "--mapping",
            str(mapping),
            "--map",
            "state=st",
            "--map",
            "last_name=sname",
            "--out",
            str(out),
        ],
    )

    assert result.exit_code == 0, result.output
    assert "compared email, last_name, state" in _flat(result.output)


def test_link_inputs_with_the_same_ids_are_two_records_each(tmp_path: Path):
    left, right = tmp_path / "left.csv", tmp_path / "right.csv"
    left.write_text(PEOPLE, encoding="utf-8")
    right.write_text(PEOPLE.replace("John,Smith,john", "Zoe,Clarke,zoe"), encoding="utf-8")

    result = resolve_file(
        left,
        {"record_id": "member_no", "first_name": "fname", "last_name": "sname", "email": "email"},
        other_path=right,
    )
    customer = result.assignments.set_index(["source_dataset", "record_id"])["customer_id"]

    assert len(customer) == 6
    assert customer[("left.csv", "m1")] != customer[("right.csv", "m1")]
    assert customer[("left.csv", "m2")] == customer[("right.csv", "m2")]
