"""The suites: which expectations each table must meet, and whether a failure blocks the flow.

Blocking suites guard what reaches the CRM and marketing: a broken identity result or health
table must never be synced. The others warn, so a steward looks without the pipeline stopping.
"""

from dataclasses import dataclass

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
HEALTH_TIERS = ["healthy", "watch", "at_risk"]
# A customer built from more records than this is almost certainly several people merged.
MAX_CLUSTER_SIZE = 60


@dataclass(frozen=True)
class SuiteSpec:
    """A suite as code.

    Attributes:
        name: Suite name (also the Dagster check name).
        table: (schema, table) it validates.
        blocking: Whether a failure stops everything downstream.
        expectations: (GX expectation class name, its arguments) pairs; plain data, so defining
            suites does not import GX.
        description: What the suite protects, for the UI.
    """

    name: str
    table: tuple[str, str]
    blocking: bool
    expectations: tuple[tuple[str, dict], ...]
    description: str


SUITES: tuple[SuiteSpec, ...] = (
    SuiteSpec(
        name="crm_contacts_quality",
        table=("raw_crm", "contacts"),
        blocking=False,
        expectations=(
            ("ExpectColumnValuesToNotBeNull", {"column": "contact_id"}),
            ("ExpectColumnValuesToBeUnique", {"column": "contact_id"}),
            ("ExpectColumnValuesToMatchRegex", {"column": "email", "regex": EMAIL_PATTERN, "mostly": 0.99}),
            ("ExpectColumnValuesToNotBeNull", {"column": "updated_at"}),
            (
                "ExpectColumnPairValuesAToBeGreaterThanB",
                {
                    "column_A": "updated_at",
                    "column_B": "created_at",
                    "or_equal": True,
                    "ignore_row_if": "either_value_is_missing",
                },
            ),
        ),
        description="CRM contacts: key present and unique, emails well-formed, timestamps consistent.",
    ),
    SuiteSpec(
        name="customer_clusters_quality",
        table=("identity", "customer_clusters"),
        blocking=True,
        expectations=(
            ("ExpectColumnValuesToNotBeNull", {"column": "record_id"}),
            ("ExpectColumnValuesToBeUnique", {"column": "record_id"}),
            ("ExpectColumnValuesToNotBeNull", {"column": "customer_id"}),
            ("ExpectColumnValuesToMatchRegex", {"column": "customer_id", "regex": r"^cus_[0-9a-f]{16}$"}),
            (
                "ExpectColumnMaxToBeBetween",
                {"column": "cluster_size", "min_value": 1, "max_value": MAX_CLUSTER_SIZE},
            ),
            (
                "ExpectColumnValuesToBeBetween",
                {"column": "match_probability", "min_value": 0, "max_value": 1},
            ),
            ("ExpectTableRowCountToBeBetween", {"min_value": 1}),
        ),
        description="Identity result: every record resolved once, ids well-formed, no over-merged customer.",
    ),
    SuiteSpec(
        name="crm_contact_scores_quality",
        table=("marts", "crm_contact_scores"),
        blocking=True,
        expectations=(
            ("ExpectColumnValuesToNotBeNull", {"column": "crm_contact_id"}),
            ("ExpectColumnValuesToBeUnique", {"column": "crm_contact_id"}),
            ("ExpectColumnValuesToNotBeNull", {"column": "customer_id"}),
            ("ExpectColumnValuesToBeBetween", {"column": "health_score", "min_value": 0, "max_value": 100}),
            ("ExpectColumnValuesToBeInSet", {"column": "health_tier", "value_set": HEALTH_TIERS}),
            ("ExpectColumnValuesToNotBeNull", {"column": "health_top_reason"}),
        ),
        description="What the sync writes to the CRM: one row per contact, scores 0-100, known tiers, a reason.",
    ),
)


def suite(name: str) -> SuiteSpec:
    """Return the suite called ``name``.

    Args:
        name: A suite name from ``SUITES``.

    Returns:
        The suite.
    """
    for spec in SUITES:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown suite '{name}'; known: {', '.join(s.name for s in SUITES)}")
