"""Deterministic sample data of a B2B software company, in the landing-folder layout the connectors read.

One call writes a CRM database, website/product events, an ESP export, four lead channels, help-desk
tickets, NPS responses and a consent log about the same people, with the realistic variations that
make identity resolution hard, plus ``ground_truth.csv`` (which person each record is about) and
``manifest.json`` (row counts and the rows broken on purpose)::

    from connectors.sample import generate

    manifest = generate("data/sample", customers=5000, seed=42)

The same (customers, seed, as_of) gives byte-identical text files and identical CRM rows.
"""

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from . import _consent, _email, _leads, _service
from ._crm import build_crm, write_crm
from ._events import build_events
from ._output import Malformed, Truth, write_csv, write_lines
from ._people import build_world

__all__ = ["Malformed", "Manifest", "generate"]

MIN_CUSTOMERS = 10


@dataclass(frozen=True)
class Manifest:
    """What one ``generate`` call wrote.

    Attributes:
        seed: Random seed used.
        customers: Number of people generated.
        as_of: Day after the last day of data; every timestamp is in the 365 days before it.
        generated_files: Data rows per file, keyed by path relative to the output folder; CRM
            tables as ``crm.sqlite:<table>``; JSONL counts include the malformed lines.
        injected_malformed: Rows broken on purpose (not in the ground truth).
    """

    seed: int
    customers: int
    as_of: date
    generated_files: dict[str, int]
    injected_malformed: tuple[Malformed, ...]

    def to_json(self) -> str:
        """Return the ``manifest.json`` text."""
        document = {
            "seed": self.seed,
            "customers": self.customers,
            "as_of": self.as_of.isoformat(),
            "generated_files": self.generated_files,
            "injected_malformed": [asdict(m) for m in self.injected_malformed],
        }
        return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


SAMPLE_PHASES = (
    "people and companies",
    "CRM",
    "lead forms",
    "email activity",
    "web and app events",
    "tickets and NPS",
    "writing files",
)
"""The phases ``generate`` reports to its ``progress`` callback, in order."""


def generate(
    out_dir: str | Path,
    customers: int = 5000,
    seed: int = 42,
    as_of: date | None = None,
    *,
    malformed_per_kind: int = 5,
    progress: Callable[[str], None] | None = None,
) -> Manifest:
    """Write a complete, deterministic sample of every source into ``out_dir``.

    Existing sample files there are replaced (including ``crm.sqlite`` and old monthly event files).

    Args:
        out_dir: Landing folder to write into (created if missing).
        customers: Number of people (at least 10); about one company per five people.
        seed: Random seed.
        as_of: Day after the last day of data (default: today); timestamps fall in the 365 days
            before it, never on or after it. Renewal and open-deal close dates may lie ahead.
        malformed_per_kind: Broken rows injected into the events files, tickets and NPS responses each
            (0 for a clean sample).
        progress: Called with the name of each phase as it starts (``SAMPLE_PHASES``, in order).

    Returns:
        The manifest, also written to ``out_dir/manifest.json``.

    Raises:
        ValueError: ``customers`` is below 10 or ``malformed_per_kind`` is negative.
    """
    if customers < MIN_CUSTOMERS:
        raise ValueError(f"customers must be at least {MIN_CUSTOMERS}, got {customers}")
    if malformed_per_kind < 0:
        raise ValueError(f"malformed_per_kind must be 0 or more, got {malformed_per_kind}")
    as_of = as_of or date.today()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    step = progress or (lambda _phase: None)
    step("people and companies")
    world = build_world(customers, seed, as_of)
    truth = Truth()
    step("CRM")
    crm = build_crm(world, truth)
    step("lead forms")
    leads = _leads.build_leads(world, truth)
    consent = _consent.plan_consent(world, crm, leads)
    step("email activity")
    email = _email.build_email(world, consent, truth)
    consent_rows = _consent.finish_consent(world, consent, truth)
    step("web and app events")
    events = build_events(world, leads.fills, email.clicks, truth, malformed_per_kind)
    step("tickets and NPS")
    service = _service.build_service(world, truth, malformed_per_kind)

    step("writing files")
    files = {f"crm.sqlite:{table}": count for table, count in write_crm(out / "crm.sqlite", crm).items()}
    for stale in sorted((out / "events").glob("events-*.jsonl")):
        stale.unlink()
    for name, lines in events.files.items():
        files[name] = write_lines(out / name, lines)
    files["email/esp_export.csv"] = write_csv(out / "email/esp_export.csv", _email.HEADER, email.rows)
    for channel in _leads.CHANNELS:
        name = f"leads/{channel}.csv"
        files[name] = write_csv(out / name, _leads.HEADERS[channel], leads.rows[channel])
    files[_service.TICKETS_FILE] = write_csv(
        out / _service.TICKETS_FILE, _service.TICKET_HEADER, service.tickets
    )
    files[_service.NPS_FILE] = write_csv(out / _service.NPS_FILE, _service.NPS_HEADER, service.nps)
    files["consent/consent_log.csv"] = write_csv(
        out / "consent/consent_log.csv", _consent.HEADER, consent_rows
    )
    files["ground_truth.csv"] = write_csv(
        out / "ground_truth.csv", ("source", "source_record_id", "person_id"), truth.rows()
    )
    malformed = sorted(events.malformed + service.malformed, key=lambda m: (m.file, m.line))
    manifest = Manifest(seed, customers, as_of, dict(sorted(files.items())), tuple(malformed))
    (out / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
    return manifest
