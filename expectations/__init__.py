"""Data-quality suites as code, validated with Great Expectations (GX Core 1.x).

One suite per raw table, identity output and mart (``SUITES``), each a plain ``SuiteSpec``:
schema, keys, formats, ranges, referential integrity, freshness and volume. ``validate`` returns
plain results; ``check_table`` also records them in ``quality.check_results`` so the
orchestration layer decides how they show and whether they block, and stewards see the history.
"""

from expectations._identity_health import (
    DEFAULT_MAX_MERGE_RATE_CHANGE,
    IDENTITY_HEALTH_SUITE,
    IdentityHealth,
    check_identity_health,
    graph_health,
)
from expectations._spec import Freshness, Reference, SuiteSpec
from expectations._store import check_table, previous_row_count, record
from expectations._suites import SUITES, suite
from expectations._validate import (
    DEFAULT_MAX_VOLUME_CHANGE,
    MAX_FAILING_KEYS,
    ExpectationOutcome,
    SuiteOutcome,
    validate,
)

__all__ = [
    "DEFAULT_MAX_MERGE_RATE_CHANGE",
    "DEFAULT_MAX_VOLUME_CHANGE",
    "IDENTITY_HEALTH_SUITE",
    "MAX_FAILING_KEYS",
    "SUITES",
    "ExpectationOutcome",
    "Freshness",
    "IdentityHealth",
    "Reference",
    "SuiteOutcome",
    "SuiteSpec",
    "check_identity_health",
    "check_table",
    "graph_health",
    "previous_row_count",
    "record",
    "suite",
    "validate",
]
