"""Secrets from the environment never show: not in `cdp env`, not in an unexpected error or its traceback."""

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.secrets import is_secret_name, masked, redact, secret_values
from orchestration import cli
from orchestration.cli_common import console

TOKEN = "pat-na1-0f3c9a77-secret"
PASSWORD = "s3cr3t-Pa55"
ENVIRONMENT = {
    "CDP_HUBSPOT_TOKEN": TOKEN,
    "CDP_CRM_URL": f"postgresql+psycopg://cdp_reader:{PASSWORD}@crm-db.internal:5432/crm",
    "CDP_INTAKE_WRITE_KEYS": "wk_live_abc123,wk_live_def456",
    "CDP_SYNC_KEY_COLUMN": "contact_id",
    "CDP_LANDING_DIR": "/srv/landing",
}


def test_secret_names_and_url_passwords_are_recognised():
    assert [n for n in ENVIRONMENT if is_secret_name(n)] == ["CDP_HUBSPOT_TOKEN", "CDP_INTAKE_WRITE_KEYS"]
    assert masked("CDP_HUBSPOT_TOKEN", TOKEN) == "***"
    assert masked("CDP_CRM_URL", ENVIRONMENT["CDP_CRM_URL"]) == (
        "postgresql+psycopg://cdp_reader:***@crm-db.internal:5432/crm"
    )
    assert masked("CDP_SYNC_KEY_COLUMN", "contact_id") == "contact_id"
    assert masked("CDP_HUBSPOT_TOKEN", "") == ""
    assert set(secret_values(ENVIRONMENT)) == {TOKEN, PASSWORD, "wk_live_abc123,wk_live_def456"}
    text = f"GET with Bearer {TOKEN} to postgresql://u:{PASSWORD}@h failed"
    assert redact(text, ENVIRONMENT) == "GET with Bearer *** to postgresql://u:***@h failed"


def test_cdp_env_masks_every_secret(monkeypatch):
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(console, "width", 400)
    result = CliRunner().invoke(cli.app, ["env"])
    assert result.exit_code == 0
    assert TOKEN not in result.output and PASSWORD not in result.output
    assert "cdp_reader:***@crm-db.internal" in result.output
    assert "***" in next(line for line in result.output.splitlines() if "CDP_HUBSPOT_TOKEN" in line)


def test_an_unexpected_error_prints_one_masked_line_and_no_traceback(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("CDP_HUBSPOT_TOKEN", TOKEN)
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))

    def broken() -> None:
        raise RuntimeError(f"HubSpot refused token {TOKEN}")

    monkeypatch.setattr(cli, "app", broken)
    monkeypatch.setattr(sys, "argv", ["cdp", "run"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert "RuntimeError: HubSpot refused token ***" in out
    assert TOKEN not in out and "Traceback" not in out
    saved = Path(tmp_path / "cdp-last-error.txt").read_text(encoding="utf-8")
    assert "Traceback" in saved and "broken" in saved and TOKEN not in saved
