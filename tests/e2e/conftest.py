"""One pipeline run over a small sample, shared by every end-to-end test module.

Tests read the warehouse it leaves through ``wh``; a test that needs a different state makes its own
copy instead of changing the shared one (the rerun test is the one exception: a rerun must change nothing).
"""

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from connectors.sample import generate

AS_OF = date(2026, 11, 1)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    landing = root / "landing"
    generate(landing, customers=400, seed=11, as_of=AS_OF)
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    values = {
        "CDP_WAREHOUSE_PATH": str(root / "warehouse.duckdb"),
        "CDP_CRM_URL": f"sqlite:///{landing / 'crm.sqlite'}",
        "CDP_LANDING_DIR": str(landing),
        "CDP_AS_OF_DATE": AS_OF.isoformat(),
        "DAGSTER_HOME": str(home),
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in values.items():
            patch.setenv(key, value)
        yield {"root": root, "landing": landing, **values}


@pytest.fixture(scope="session")
def first_run(env):
    from orchestration.runner import run_pipeline

    result = run_pipeline()
    assert result.success, "the pipeline failed; see the step output above"
    return result


@pytest.fixture(scope="session")
def wh(env, first_run):
    def query(sql: str) -> pd.DataFrame:
        with duckdb.connect(env["CDP_WAREHOUSE_PATH"], read_only=True) as con:
            return con.execute(sql).df()

    return query


@pytest.fixture(scope="session")
def truth(env) -> pd.DataFrame:
    frame = pd.read_csv(env["landing"] / "ground_truth.csv", dtype="string")
    frame["record_id"] = frame["source"] + ":" + frame["source_record_id"]
    return frame
