"""The environment of a pipeline run in a folder of its own, shared by the end-to-end modules."""

import shutil
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def pipeline_environment(root: Path, landing: Path, crm: Path, as_of: date | str) -> dict[str, str]:
    """Create ``root/dagster_home`` (with the pool limits) and return the variables a run reads.

    Args:
        root: The run's folder; the warehouse goes to ``root/warehouse.duckdb``.
        landing: The landing folder.
        crm: The SQLite CRM file.
        as_of: The marts' as-of date.

    Returns:
        ``CDP_WAREHOUSE_PATH``, ``CDP_CRM_URL``, ``CDP_LANDING_DIR``, ``CDP_AS_OF_DATE``, ``DAGSTER_HOME``.
    """
    home = root / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(REPO / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    return {
        "CDP_WAREHOUSE_PATH": str(root / "warehouse.duckdb"),
        "CDP_CRM_URL": f"sqlite:///{crm}",
        "CDP_LANDING_DIR": str(landing),
        "CDP_AS_OF_DATE": str(as_of),
        "DAGSTER_HOME": str(home),
    }
