"""Every suite, by layer, and lookup by name.

Blocking suites guard what reaches the CRM and marketing: a broken identity result or health
table must never be synced. The others warn, so a steward looks without the pipeline stopping.
"""

from expectations._spec import SuiteSpec
from expectations._suites_identity import IDENTITY_SUITES, MAX_CLUSTER_SIZE
from expectations._suites_marts import MART_SUITES
from expectations._suites_raw import RAW_SUITES

__all__ = ["MAX_CLUSTER_SIZE", "SUITES", "suite"]

SUITES: tuple[SuiteSpec, ...] = (*RAW_SUITES, *IDENTITY_SUITES, *MART_SUITES)


def suite(name: str) -> SuiteSpec:
    """Return the suite called ``name``.

    Args:
        name: A suite name from ``SUITES``.

    Returns:
        The suite.

    Raises:
        KeyError: No suite has that name.
    """
    for spec in SUITES:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown suite '{name}'; known: {', '.join(s.name for s in SUITES)}")
