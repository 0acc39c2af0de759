"""The threshold report scores labelled records at each threshold and measures the blocking ceiling."""

import pandas as pd

from identity import threshold_report
from tests.unit._identity_records import person_records

RECORDS = person_records(
    [
        ("crm_contacts:1", "Maria", "Lopez", "maria.lopez@acme.io", None),
        ("tickets:1", None, None, "maria.lopez@acme.io", None),
        ("crm_contacts:2", "Tom", "Baker", "tom.baker@globex.io", "+1 415 555 0199"),
        ("lead_forms:2", "Tom", "Baker", "tb77@mailbox.org", None),
        ("crm_contacts:3", "Ann", "Short", "ann.short@initech.io", None),
        ("lead_forms:3", "Ann", "Short", "ann@shortfamily.org", None),
        ("email:ivy@one.io", None, None, "ivy@one.io", None),
        ("email:ivy.second@two.io", None, None, "ivy.second@two.io", None),
    ]
)
# Tom's two records agree on name and company only: a model link, taken at 0.95, not at 0.999999.
RECORDS["company_name"] = RECORDS["record_id"].map(
    {"crm_contacts:2": "Globex Inc.", "lead_forms:2": "GLOBEX"}
)
# Ann Short at Initech and Ann Short of the family address are two people; Ivy's two addresses
# are one person that no rule or blocking key can bring together.
TRUTH = pd.Series(
    {
        "crm_contacts:1": "maria",
        "tickets:1": "maria",
        "crm_contacts:2": "tom",
        "lead_forms:2": "tom",
        "crm_contacts:3": "ann-1",
        "lead_forms:3": "ann-2",
        "email:ivy@one.io": "ivy",
        "email:ivy.second@two.io": "ivy",
    }
)


def test_report_gives_precision_recall_per_threshold_and_the_blocking_ceiling():
    report = threshold_report(RECORDS, TRUTH, candidates=(0.95, 0.999999))
    assert report["true_pairs"] == 3
    assert report["blocking_recall_ceiling"] == 2 / 3
    by_threshold = {row["threshold"]: row for row in report["thresholds"]}
    assert by_threshold[0.95]["precision"] == 1.0
    assert by_threshold[0.95]["recall"] == 2 / 3
    assert by_threshold[0.999999]["recall"] == 1 / 3
    assert report["chosen"] == 0.95
