"""Small person-record frames for the identity unit tests, in the ``int_person_records`` layout."""

import pandas as pd

COLUMNS = [
    "record_id",
    "source",
    "source_record_id",
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
]


def person_records(rows: list[tuple]) -> pd.DataFrame:
    """Build person records from ``(record_id, first_name, last_name, email, phone)`` tuples.

    Args:
        rows: One tuple per record; ``record_id`` is ``<source>:<source_record_id>``.

    Returns:
        A string-typed frame with the matching columns and ``country`` US.
    """
    frame = pd.DataFrame(
        [
            (rid, rid.split(":")[0], rid.split(":")[1], first, last, None, email, phone)
            for rid, first, last, email, phone in rows
        ],
        columns=COLUMNS,
    ).astype("string")
    frame["country"] = pd.Series("US", index=frame.index, dtype="string")
    return frame
