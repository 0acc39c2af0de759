"""One pipeline run over a small sample, shared by every end-to-end test module.

Tests read the warehouse it leaves through ``wh``; a test that needs a different state makes its own
copy instead of changing the shared one (the rerun test is the one exception: a rerun must change nothing).
"""

from datetime import date

import duckdb
import pandas as pd
import pytest

from connectors.sample import generate
from tests.e2e._environment import pipeline_environment

AS_OF = date(2026, 11, 1)


@pytest.fixture(scope="session")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    landing = root / "landing"
    generate(landing, customers=400, seed=11, as_of=AS_OF)
    values = pipeline_environment(root, landing, landing / "crm.sqlite", AS_OF)
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
