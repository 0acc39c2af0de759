"""What the resolve tool prints: a progress bar, one note about untrained parameters, Splink's own
messages only with -v."""

import logging
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from identity import resolve_frame
from orchestration.cli import app

PEOPLE = """id,fname,sname,email,dob
1,John,Smith,john@mail.net,1980-01-02
2,Mary,Jones,mary@mail.net,1975-05-06
3,Mary,Jones,mary@mail.net,1975-05-06
4,Peter,Brown,peter@mail.net,1990-07-08
5,Anna,Wilson,anna@mail.net,1992-03-04
"""
MAP = [
    "--map",
    "record_id=id",
    "--map",
    "first_name=fname",
    "--map",
    "last_name=sname",
    "--map",
    "email=email",
    "--map",
    "date_of_birth=dob",
]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def splink_records():
    logger, handler = logging.getLogger("splink"), _Records()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.records
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_training_notes_are_info_not_warnings(splink_records: list[logging.LogRecord]):
    frame = pd.read_csv(pd.io.common.StringIO(PEOPLE), dtype="string")

    result = resolve_frame(
        frame, {"record_id": "id", "first_name": "fname", "last_name": "sname", "email": "email"}
    )

    assert [r.getMessage() for r in splink_records if r.levelno >= logging.WARNING] == []
    assert any("not observed in dataset" in r.getMessage() for r in splink_records)
    assert result.stats["untrained_parameters"] > 0


def test_progress_reports_each_step_up_to_the_total():
    frame = pd.read_csv(pd.io.common.StringIO(PEOPLE), dtype="string")
    steps: list[tuple[str, int, int]] = []

    resolve_frame(
        frame,
        {"first_name": "fname", "last_name": "sname", "email": "email"},
        progress=lambda step, done, total: steps.append((step, done, total)),
    )

    totals = {total for _, _, total in steps}
    assert len(totals) == 1
    assert [done for _, done, _ in steps] == list(range(1, totals.pop() + 1))
    names = [step for step, _, _ in steps]
    assert names[0].startswith("training") and names[-2:] == [
        "scoring candidate pairs",
        "clustering linked records",
    ]


def _flat(text: str) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(text.split())


@pytest.fixture
def people(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    path.write_text(PEOPLE, encoding="utf-8")
    return path


def test_cli_keeps_splink_quiet_unless_verbose(people: Path, tmp_path: Path):
    out = str(tmp_path / "out.csv")

    quiet = CliRunner().invoke(app, ["identity", "resolve", str(people), *MAP, "--out", out])
    verbose = CliRunner().invoke(app, ["identity", "resolve", str(people), *MAP, "--out", out, "-v"])

    assert quiet.exit_code == 0 and verbose.exit_code == 0, quiet.output + verbose.output
    assert "not observed in dataset" not in quiet.stderr
    assert "EM sampling" not in quiet.stderr
    assert "model parameters had no training examples" in _flat(quiet.stderr)
    assert "not observed in dataset" in verbose.stderr
    assert "5 records → 4 customers" in _flat(quiet.stdout)
