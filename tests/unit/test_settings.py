"""Every environment variable is documented, and a bad value is refused with its name."""

from pathlib import Path

import pytest

from orchestration.settings import ENVIRONMENT, Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("document", ["README.md", ".env.example"])
def test_every_variable_the_pipeline_reads_is_documented(document):
    text = (REPO / document).read_text(encoding="utf-8")
    missing = [name for name in ENVIRONMENT if name not in text]
    assert missing == [], f"{document} does not mention {missing}"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CDP_IDENTITY_MODE", "sometimes", "CDP_IDENTITY_MODE must be 'auto' or 'full'"),
        ("CDP_IDENTITY_MAX_CLUSTER_SIZE", "big", "CDP_IDENTITY_MAX_CLUSTER_SIZE must be a whole number"),
        ("CDP_IDENTITY_INCREMENTAL_MAX_SHARE", "1.5", "CDP_IDENTITY_INCREMENTAL_MAX_SHARE between 0 and 1"),
        ("CDP_IDENTITY_THRESHOLD", "1", "CDP_IDENTITY_THRESHOLD must be between 0 and 1"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        Settings.from_env()


def test_identity_defaults_and_no_size_limit(monkeypatch):
    for name in ("CDP_IDENTITY_MODE", "CDP_IDENTITY_MAX_CLUSTER_SIZE", "CDP_IDENTITY_INCREMENTAL_MAX_SHARE"):
        monkeypatch.delenv(name, raising=False)
    defaults = Settings.from_env()
    assert (defaults.identity_mode, defaults.identity_max_cluster_size) == ("auto", 50)
    assert defaults.identity_incremental_max_share == 0.1
    monkeypatch.setenv("CDP_IDENTITY_MAX_CLUSTER_SIZE", "0")
    assert Settings.from_env().identity_max_cluster_size is None


def test_the_warehouse_opens_with_the_configured_memory_limit_and_spill_folder(tmp_path, monkeypatch):
    from connectors import warehouse

    path = tmp_path / "w.duckdb"
    monkeypatch.setenv("CDP_DUCKDB_MEMORY_LIMIT", "1GB")
    monkeypatch.setenv("CDP_DUCKDB_TEMP_DIR", str(tmp_path / "spill"))
    with warehouse.connect(path) as con:
        limit, spill = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchall()[0]
    assert limit == "953.6 MiB" and spill == str(tmp_path / "spill")
    monkeypatch.delenv("CDP_DUCKDB_TEMP_DIR")
    env = Settings.from_env().dbt_env()
    assert env["CDP_DUCKDB_MEMORY_LIMIT"] == "1GB"
    assert env["CDP_DUCKDB_TEMP_DIR"].endswith("warehouse.duckdb.tmp")
