"""What a suite is, and the small builders the suite modules are written with.

Suites are plain data: defining them imports neither GX nor DuckDB. ``expectations.validate``
turns a spec into GX expectations plus the checks GX has no expectation for (column types on
pandas 3, referential integrity, volume against the previous run).
"""

from dataclasses import dataclass

import phonenumbers

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# Phones arrive as people typed them (national or international, with spaces, dashes, brackets);
# audiences turn them into E.164 at export. This only rejects values that cannot be a phone at all.
PHONE_PATTERN = r"^[+(]?[0-9][0-9 ()./-]{5,24}[0-9]$"
# ISO 3166-1 alpha-2 codes of every country with a telephone numbering plan.
COUNTRY_CODES = sorted(phonenumbers.SUPPORTED_REGIONS)
CUSTOMER_ID_PATTERN = r"^cus_[0-9a-f]{16}$"
ACCOUNT_ID_PATTERN = r"^acc_[0-9a-f]{16}$"
HEALTH_TIERS = ["healthy", "watch", "at_risk"]
JOURNEY_STAGES = ["visitor", "lead", "mql", "sql", "opportunity", "customer", "churned"]
# Column type families, checked on the DataFrame read from the warehouse.
TYPE_FAMILIES = ("integer", "number", "text", "timestamp", "boolean", "list")


@dataclass(frozen=True)
class Reference:
    """A foreign key: every non-null ``column`` value must exist in ``table.target_column``.

    Attributes:
        column: Column of the validated table.
        table: (schema, table) holding the referenced keys.
        target_column: Key column of that table.
    """

    column: str
    table: tuple[str, str]
    target_column: str


@dataclass(frozen=True)
class Freshness:
    """The newest ``column`` value must be at most ``max_age_days`` before the as-of date.

    Attributes:
        column: A timestamp or date column.
        max_age_days: Days the newest value may lag the as-of date (CDP_AS_OF_DATE, else today).
    """

    column: str
    max_age_days: int


@dataclass(frozen=True)
class SuiteSpec:
    """A suite as code.

    Attributes:
        name: Suite name (also the Dagster check name).
        table: (schema, table) it validates.
        blocking: Whether a failure stops everything downstream.
        expectations: (GX expectation class name, its arguments) pairs for the formats, ranges and
            allowed values; plain data, so defining suites does not import GX.
        description: What the suite protects, for the UI.
        columns: Expected column → type family (one of ``TYPE_FAMILIES``); the table may have more.
        key: Columns identifying a row: not null, unique together, and reported for failing rows.
        references: Foreign keys checked against other warehouse tables.
        timestamps: Event-time columns that must be neither before 2000 nor in the future.
        freshness: How recent the newest row must be, or None.
        volume: Whether the row count may move only within the tolerance since the previous run.
    """

    name: str
    table: tuple[str, str]
    blocking: bool
    expectations: tuple[tuple[str, dict], ...]
    description: str
    columns: dict[str, str] | None = None
    key: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()
    timestamps: tuple[str, ...] = ()
    freshness: Freshness | None = None
    volume: bool = True

    def __post_init__(self) -> None:
        unknown = {t for t in (self.columns or {}).values() if t not in TYPE_FAMILIES}
        if unknown:
            raise ValueError(
                f"suite {self.name}: unknown type famil(ies) {sorted(unknown)}; use {TYPE_FAMILIES}"
            )


def email(column: str, mostly: float = 1.0) -> tuple[str, dict]:
    """Non-null values of ``column`` look like an email address."""
    return ("ExpectColumnValuesToMatchRegex", {"column": column, "regex": EMAIL_PATTERN, "mostly": mostly})


def phone(column: str) -> tuple[str, dict]:
    """Non-null values of ``column`` could be a phone number."""
    return ("ExpectColumnValuesToMatchRegex", {"column": column, "regex": PHONE_PATTERN})


def country(column: str) -> tuple[str, dict]:
    """Non-null values of ``column`` are ISO 3166-1 alpha-2 country codes."""
    return ("ExpectColumnValuesToBeInSet", {"column": column, "value_set": COUNTRY_CODES})


def pattern(column: str, regex: str) -> tuple[str, dict]:
    """Non-null values of ``column`` match ``regex``."""
    return ("ExpectColumnValuesToMatchRegex", {"column": column, "regex": regex})


def between(column: str, low: float | None = None, high: float | None = None) -> tuple[str, dict]:
    """Non-null values of ``column`` lie in [low, high] (an open side when None)."""
    return ("ExpectColumnValuesToBeBetween", {"column": column, "min_value": low, "max_value": high})


def one_of(column: str, values: list) -> tuple[str, dict]:
    """Non-null values of ``column`` are among ``values``."""
    return ("ExpectColumnValuesToBeInSet", {"column": column, "value_set": values})


def not_null(*columns: str) -> tuple[tuple[str, dict], ...]:
    """Every row has a value in each of ``columns``."""
    return tuple(("ExpectColumnValuesToNotBeNull", {"column": c}) for c in columns)


def not_before(column_a: str, column_b: str) -> tuple[str, dict]:
    """``column_a`` is never earlier than ``column_b`` (rows missing either are skipped)."""
    return (
        "ExpectColumnPairValuesAToBeGreaterThanB",
        {
            "column_A": column_a,
            "column_B": column_b,
            "or_equal": True,
            "ignore_row_if": "either_value_is_missing",
        },
    )
