"""Steward overrides: must-link, cannot-link and split decisions that every run honours.

Stewards keep their decisions in a YAML file under version control (``identity/overrides.yaml`` by
default, ``CDP_IDENTITY_OVERRIDES`` to point elsewhere), so each decision carries who made it, when
and why, and changes only through a reviewed diff. Records are named by their ``record_id``
(``source:source_record_id``).
"""

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

DEFAULT_OVERRIDES_PATH = Path(__file__).parent / "overrides.yaml"
KINDS = ("must_link", "cannot_link", "split")
_REQUIRED = ("records", "by", "at", "reason")


class OverridesError(ValueError):
    """The overrides file cannot be used; the message names the file, entry and field."""


@dataclass(frozen=True)
class Override:
    """One steward decision.

    Attributes:
        kind: ``must_link`` (these records are one customer), ``cannot_link`` (no two of these
            records may share a customer) or ``split`` (these records form a customer apart from
            every other record).
        records: The record ids the decision is about.
        by: Who decided.
        at: When (ISO date).
        reason: Why.
    """

    kind: str
    records: tuple[str, ...]
    by: str
    at: str
    reason: str

    def describe(self) -> str:
        """Return a one-line account of the decision for the history table.

        Returns:
            Text like ``steward cannot_link by ana (2026-10-01): two siblings``.
        """
        return f"steward {self.kind} by {self.by} ({self.at}): {self.reason}"


def _entry(path: Path, kind: str, index: int, raw: object) -> Override:
    where = f"{path}: {kind}[{index}]"
    if not isinstance(raw, dict):
        raise OverridesError(f"{where} must be a mapping with keys {', '.join(_REQUIRED)}")
    missing = [key for key in _REQUIRED if raw.get(key) in (None, "", [])]
    if missing:
        raise OverridesError(f"{where} is missing {', '.join(missing)}; every decision needs who/when/why")
    unknown = sorted(set(raw) - set(_REQUIRED))
    if unknown:
        raise OverridesError(
            f"{where} has unknown field(s) {', '.join(unknown)}; allowed: {', '.join(_REQUIRED)}"
        )
    records = raw["records"]
    if not isinstance(records, list) or not all(isinstance(r, str) and r for r in records):
        raise OverridesError(f"{where}.records must be a list of record ids like 'crm:123'")
    if len(set(records)) != len(records):
        raise OverridesError(f"{where}.records lists a record twice")
    if kind != "split" and len(records) < 2:
        raise OverridesError(f"{where}.records needs at least two record ids")
    at = raw["at"]
    try:
        at = at.isoformat() if isinstance(at, date) else date.fromisoformat(str(at)).isoformat()
    except ValueError:
        raise OverridesError(f"{where}.at must be a date like 2026-10-01, not {at!r}") from None
    return Override(kind, tuple(records), str(raw["by"]), at, str(raw["reason"]))


def load_overrides(path: str | Path | None = None) -> list[Override]:
    """Read and validate the stewards' decisions.

    Args:
        path: The overrides YAML; None for the packaged ``identity/overrides.yaml``. A missing
            default file means no decisions; a missing explicit path is an error.

    Returns:
        The decisions in file order.

    Raises:
        OverridesError: The file is unreadable, malformed, or contradicts itself (a pair both
            must-linked and cannot-linked); the message names the entry and what to fix.
    """
    explicit = path is not None
    path = Path(path) if explicit else DEFAULT_OVERRIDES_PATH
    if not path.exists():
        if explicit:
            raise OverridesError(f"{path}: overrides file not found (check CDP_IDENTITY_OVERRIDES)")
        return []
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise OverridesError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise OverridesError(f"{path}: expected keys {', '.join(KINDS)} at the top level")
    unknown = sorted(set(raw) - set(KINDS))
    if unknown:
        raise OverridesError(f"{path}: unknown section(s) {', '.join(unknown)}; allowed: {', '.join(KINDS)}")
    overrides = []
    for kind in KINDS:
        entries = raw.get(kind) or []
        if not isinstance(entries, list):
            raise OverridesError(f"{path}: {kind} must be a list of decisions")
        overrides.extend(_entry(path, kind, i, entry) for i, entry in enumerate(entries))
    _check_consistent(path, overrides)
    return overrides


def _check_consistent(path: Path, overrides: list[Override]) -> None:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for override in overrides:
        if override.kind == "must_link":
            for other in override.records[1:]:
                parent[find(other)] = find(override.records[0])
    for override in overrides:
        if override.kind == "cannot_link":
            roots = [find(r) for r in override.records]
            if len(set(roots)) < len(roots):
                raise OverridesError(
                    f"{path}: cannot_link {list(override.records)} (by {override.by}) contradicts a must_link "
                    "that joins two of its records; remove one of the two decisions"
                )
