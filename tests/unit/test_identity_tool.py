"""The general resolve tool on tiny files whose answer is obvious from reading them."""

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from identity import ToolInputError, read_mapping, resolve_file, resolve_frame
from orchestration.cli import app

PEOPLE = """id,fname,sname,email,dob,zip,town
1,John,Smith,john.smith@example.org,1980-01-02,SW1A 1AA,London
2,Olivia,Taylor,olivia.t@mail.net,1979-09-10,EH1 1YZ,Edinburgh
3,Mary,Jones,mary.jones@mail.net,1975-05-06,M1 1AE,Manchester
4,Mary,Jones,mjones@work.co,1975-05-06,M1 1AE,Manchester
5,Peter,Brown,peter.brown@mail.net,1990-07-08,B1 1AA,Birmingham
6,Anna,Brown,anna.brown@mail.net,1992-03-04,B1 1AA,Birmingham
7,Liam,Wilson,liam@wilson.io,1985-11-12,LS1 1UR,Leeds
8,Jack,Thomas,jack.thomas@mail.net,1983-06-30,L1 8JQ,Liverpool
9,Noah,Davies,noah.davies@mail.net,1988-12-01,CF10 1EP,Cardiff
10,Noah,Davis,Noah.Davies@mail.net,1988-12-01,CF10 1EP,Cardiff
11,Emma,Evans,emma.evans@mail.net,1995-02-14,BS1 4ST,Bristol
12,Sophie,Roberts,sophie.r@mail.net,1991-08-19,NE1 7RU,Newcastle
13,Harry,Johnson,harry.j@mail.net,1987-04-22,S1 2HE,Sheffield
14,Harry,Johnson,,1987-04-22,S1 2HE,Sheffield
15,Grace,Walker,grace.w@mail.net,1993-10-05,NG1 5FS,Nottingham
16,Oscar,Hughes,oscar.h@mail.net,1986-01-25,OX1 2JD,Oxford
"""
# The same people as another system holds them: other column values, typos and gaps.
OTHER_SYSTEM = """id,fname,sname,email,dob,zip,town
A,Jon,Smith,,1980-01-02,SW1A1AA,London
B,Grace,Walker,grace.walker@work.co,1993-10-05,NG1 5FS,Nottingham
C,Emma,Evans,emma.evans@mail.net,,,
D,Zoe,Clarke,zoe.clarke@mail.net,1999-09-09,YO1 7HH,York
E,Anna,Browne,,1992-03-04,B1 1AA,Birmingham
"""
MAPPING = {
    "record_id": "id",
    "first_name": "fname",
    "last_name": "sname",
    "email": "email",
    "date_of_birth": "dob",
    "postcode": "zip",
    "city": "town",
}


@pytest.fixture
def people(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    path.write_text(PEOPLE, encoding="utf-8")
    return path


def _customer_of(assignments: pd.DataFrame) -> dict[str, str]:
    return dict(zip(assignments["record_id"], assignments["customer_id"], strict=True))


def test_dedupe_merges_known_duplicates_and_keeps_look_alikes_apart(people: Path, tmp_path: Path):
    result = resolve_file(
        people, MAPPING, out=tmp_path / "customers.csv", pairs_out=tmp_path / "pairs.parquet"
    )
    customer = _customer_of(result.assignments)

    # Same person with another email; same email written differently; same person without an email.
    assert customer["3"] == customer["4"]
    assert customer["9"] == customer["10"]
    assert customer["13"] == customer["14"]
    # Same surname, postcode and city but another first name, birthday and email: a sibling.
    assert customer["5"] != customer["6"]
    assert len({customer[r] for r in ["2", "5", "6", "7", "8", "11", "12", "15", "16"]}) == 9

    written = pd.read_csv(tmp_path / "customers.csv", dtype={"record_id": "string"})
    assert list(written.columns) == [
        "source_dataset",
        "record_id",
        "customer_id",
        "cluster_size",
        "match_probability",
    ]
    assert written.set_index("record_id").loc["3", "cluster_size"] == 2
    assert set(written["source_dataset"]) == {"people.csv"}

    pairs = pd.read_parquet(tmp_path / "pairs.parquet")
    same_email = pairs[pairs["rule"] == "same_email"]
    assert list(zip(same_email["record_id_l"], same_email["record_id_r"], strict=True)) == [("9", "10")]
    assert {"mw_first_name_last_name", "mw_email", "mw_date_of_birth", "mw_postcode", "mw_city"} <= set(
        pairs.columns
    )
    assert pairs["is_linked"].sum() == result.stats["links"]


def test_link_mode_pairs_records_across_two_files_only(people: Path, tmp_path: Path):
    other = tmp_path / "other.csv"
    other.write_text(OTHER_SYSTEM, encoding="utf-8")

    result = resolve_file(people, MAPPING, other_path=other, pair_threshold=0.01)
    assignments = result.assignments.set_index(["source_dataset", "record_id"])["customer_id"]

    assert assignments[("other.csv", "B")] == assignments[("people.csv", "15")]
    assert assignments[("other.csv", "C")] == assignments[("people.csv", "11")]
    assert assignments[("other.csv", "A")] == assignments[("people.csv", "1")]
    # Zoe is in neither file twice; Anna Browne is Anna Brown's namesake with the same birthday.
    assert (assignments == assignments[("other.csv", "D")]).sum() == 1
    assert assignments[("other.csv", "E")] == assignments[("people.csv", "6")]
    # Linking does not deduplicate within a file: Mary Jones's two rows stay two customers.
    assert assignments[("people.csv", "3")] != assignments[("people.csv", "4")]
    assert (result.pairs["source_dataset_l"] != result.pairs["source_dataset_r"]).all()


def test_full_name_only_and_missing_fields_still_resolve():
    frame = pd.DataFrame(
        {
            "name": ["Maria Garcia", "maria  garcía", "Luis Garcia", "Ana Lopez"],
            "mail": ["maria@x.org", "maria@x.org", "luis@x.org", None],
        }
    )

    result = resolve_frame(frame, {"full_name": "name", "email": "mail"})
    customer = _customer_of(result.assignments)

    # Records without an id column are numbered by row, from 1.
    assert customer["1"] == customer["2"] != customer["3"]
    assert result.stats["compared_fields"] == ["email", "first_name", "last_name"]
    assert result.stats["customers"] == 3


def test_national_id_links_outright_but_placeholders_never_do():
    frame = pd.DataFrame(
        {
            "first": ["Claire", "Claire", "Tom", "Ines"],
            "last": ["Martin", "Dubois", "Keller", "Costa"],
            "nid": ["1 85 07 75 123 456", "185077512345 6", "000000000", "000-000-000"],
        }
    )

    result = resolve_frame(frame, {"first_name": "first", "last_name": "last", "national_id": "nid"})
    customer = _customer_of(result.assignments)

    # Married name, same national id written differently: one person. Two placeholder ids: two people.
    assert customer["1"] == customer["2"]
    assert customer["3"] != customer["4"]
    assert (
        result.pairs.set_index(["record_id_l", "record_id_r"]).loc[("1", "2"), "rule"] == "same_national_id"
    )


def test_records_sharing_nothing_stay_apart_without_training_data():
    frame = pd.DataFrame(
        {"a": ["Ann", "Bob", "Cid"], "b": ["Xu", "Yates", "Zorn"], "e": ["a@x.io", "b@y.io", "c@z.io"]}
    )

    result = resolve_frame(frame, {"first_name": "a", "last_name": "b", "email": "e"})

    assert result.stats["customers"] == 3 and result.stats["links"] == 0


def test_previous_assignments_keep_customer_ids(people: Path, tmp_path: Path):
    first = resolve_file(people, MAPPING, out=tmp_path / "first.parquet")
    second = resolve_file(people, MAPPING, previous_path=tmp_path / "first.parquet", model=first.model)

    pd.testing.assert_series_equal(first.assignments["customer_id"], second.assignments["customer_id"])


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"surname": "sname"}, r"field 'surname' is not a built-in field; declare how to compare it"),
        ({"last_name": "lastname"}, r"people\.csv: has no column 'lastname' \(mapped to last_name\)"),
        ({"record_id": "id"}, "names no field to compare"),
        ({"city": "town"}, "no way to find candidate pairs"),
        ({"first_name": "fname", "last_name": "fname"}, r"\['fname'\] are mapped to more than one field"),
        (
            {"record_id": "town", "email": "email"},
            r"people\.csv: record id column 'town' repeats in row 4 after the header",
        ),
    ],
)
def test_bad_mappings_are_named(people: Path, mapping: dict, message: str):
    with pytest.raises(ToolInputError, match=message):
        resolve_file(people, mapping)


def test_missing_and_unsupported_files_are_named(tmp_path: Path, people: Path):
    with pytest.raises(ToolInputError, match=r"nothere\.csv: no such file"):
        resolve_file(tmp_path / "nothere.csv", MAPPING)
    with pytest.raises(ToolInputError, match=r"unsupported output type '\.xlsx'"):
        resolve_file(people, MAPPING, out=tmp_path / "out.xlsx")
    single = tmp_path / "single.csv"
    single.write_text(PEOPLE.splitlines()[0] + "\n" + PEOPLE.splitlines()[1] + "\n", encoding="utf-8")
    with pytest.raises(ToolInputError, match=r"single\.csv: has 1 record\(s\); there is nothing to compare"):
        resolve_file(single, MAPPING)
    bad_yaml = tmp_path / "mapping.yaml"
    bad_yaml.write_text("- email\n", encoding="utf-8")
    with pytest.raises(ToolInputError, match="lines of 'field: column'"):
        read_mapping(bad_yaml)


def test_cli_resolves_with_a_yaml_mapping_and_map_options(people: Path, tmp_path: Path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("record_id: id\nfirst_name: fname\nlast_name: sname\nemail: wrong\n", encoding="utf-8")
    out = tmp_path / "out" / "customers.parquet"

    result = CliRunner().invoke(
        app,
        [
            "identity",
            "resolve",
            str(people),
            "--mapping",
            str(mapping),
            "--map",
            "email=email",
            "--map",
            "date_of_birth=dob",
            "--out",
            str(out),
            "--model-out",
            str(tmp_path / "model.json"),
        ],
    )

    assert result.exit_code == 0, result.output
    assert "16 records →" in result.output
    customer = _customer_of(pd.read_parquet(out))
    assert customer["9"] == customer["10"] and customer["5"] != customer["6"]
    assert (tmp_path / "model.json").exists()

    failed = CliRunner().invoke(
        app, ["identity", "resolve", str(people), "--out", str(out), "--map", "email"]
    )
    assert failed.exit_code == 2
    assert "--map takes FIELD=COLUMN" in failed.output
