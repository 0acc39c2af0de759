"""Writers of the landing files, the ground truth they are checked against, and injected bad rows."""

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ._people import Person


@dataclass(frozen=True)
class Malformed:
    """A row deliberately broken so the pipeline's quarantine is exercised.

    Attributes:
        file: Path relative to the output folder.
        line: 1-based physical line in the file (a CSV header is line 1).
        reason: What is wrong with it.
    """

    file: str
    line: int
    reason: str


class Truth:
    """Which person each person-bearing source record belongs to."""

    def __init__(self) -> None:
        self._owner: dict[tuple[str, str], str] = {}

    def add(self, source: str, record_id: str | int, person: Person) -> None:
        """Record that ``source`` record ``record_id`` is about ``person``."""
        key = (source, str(record_id))
        if self._owner.setdefault(key, person.person_id) != person.person_id:
            raise ValueError(f"ground truth conflict for {source} record {record_id}")

    def discard(self, source: str, record_id: str | int) -> None:
        """Forget a record (it was made malformed on purpose)."""
        del self._owner[(source, str(record_id))]

    def rows(self) -> list[tuple[str, str, str]]:
        """All (source, source_record_id, person_id), sorted."""
        return sorted((source, record, person) for (source, record), person in self._owner.items())


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """Write a UTF-8 CSV with a header row; None becomes an empty field.

    Args:
        path: File to (over)write.
        header: Column names.
        rows: Data rows in header order.

    Returns:
        Number of data rows written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if value is None else value for value in row])
            count += 1
    return count


def write_lines(path: Path, lines: Sequence[str]) -> int:
    """Write text lines (JSONL) with ``\\n`` endings; returns the number of lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for line in lines:
            handle.write(line)
            handle.write("\n")
    return len(lines)
