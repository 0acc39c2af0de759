"""Turning the pipeline's DataFrame into normalised records with checksums.

The checksum is the sha256 of the canonical JSON of the values sent, keyed by CRM column, so a
changed value or a changed field mapping both cause a resend. ``synced_at`` is excluded: it
changes on every write and says nothing about the data.
"""

import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from numbers import Integral, Real
from typing import Any

import pandas as pd

from connectors.sync._target import INPUT_KEY, SqlCrmTarget, SyncConfigError

_NUMBER_FIELDS = frozenset({"health_score"})
_SCORE_RANGE = (0.0, 100.0)


@dataclass
class Record:
    """One input row, ready to diff and send.

    Attributes:
        record_key: The contact key as text, the key of the sync state.
        key: The contact key as given (int when it is integral), bound into SQL.
        values: CRM column -> value for the data fields (no ``synced_at``).
        checksum: sha256 of the canonical JSON of ``values``; empty when ``error`` is set.
        error: Why the row cannot be sent, or None.
    """

    record_key: str | None
    key: int | str | None
    values: dict[str, Any]
    checksum: str
    error: str | None = None


def build_records(frame: pd.DataFrame, target: SqlCrmTarget) -> list[Record]:
    """Normalise the input rows for ``target`` and compute their checksums.

    Args:
        frame: One row per CRM contact: ``contact_id`` plus the mapped field columns.
        target: The destination, whose ``field_map`` says which fields are sent.

    Returns:
        One record per input row, in input order; rows that cannot be sent carry an ``error``
        (missing key, duplicate key, health_score not a number within 0-100).

    Raises:
        SyncConfigError: The DataFrame lacks ``contact_id`` or a mapped field column.
    """
    fields = {f: c for f, c in target.columns.items() if f != "synced_at"}
    missing = [c for c in (INPUT_KEY, *fields) if c not in frame.columns]
    if missing:
        raise SyncConfigError(
            f"input DataFrame lacks column(s) {', '.join(missing)}; provide them or remove the field(s) "
            f"from SqlCrmTarget.field_map"
        )
    keys = [normalize_key(v) for v in frame[INPUT_KEY].tolist()]
    counts = Counter(str(k) for k in keys if k is not None)
    columns = {f: frame[f].tolist() for f in fields}
    records = []
    for i, key in enumerate(keys):
        record_key = None if key is None else str(key)
        if key is None:
            records.append(Record(None, None, {}, "", f"{INPUT_KEY} is empty"))
            continue
        if counts[record_key] > 1:
            records.append(
                Record(
                    record_key, key, {}, "", f"{INPUT_KEY} appears {counts[record_key]} times in the input"
                )
            )
            continue
        try:
            values = {column: _value(field, columns[field][i]) for field, column in fields.items()}
        except ValueError as exc:
            records.append(Record(record_key, key, {}, "", str(exc)))
            continue
        records.append(Record(record_key, key, values, checksum(values)))
    return records


def checksum(values: dict[str, Any]) -> str:
    """Return the sha256 hex digest of the canonical JSON of ``values``.

    Args:
        values: CRM column -> JSON-serialisable value.

    Returns:
        64 hex characters; equal values give equal checksums regardless of key order.
    """
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str | list | dict) and bool(pd.isna(value)))


def normalize_key(value: Any) -> int | str | None:
    """Return a contact key as int when integral, else as stripped text; None when missing.

    Args:
        value: The key as read from a DataFrame or a database.

    Returns:
        The normalised key, whose ``str`` is the sync-state record key.
    """
    if _missing(value):
        return None
    if isinstance(value, Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, Real) and float(value).is_integer():
        # An integer key column holding a NaN arrives as float; 42.0 is contact 42.
        return int(value)
    text = str(value).strip()
    return text or None


def _value(field: str, value: Any) -> Any:
    if _missing(value):
        return None
    if field in _NUMBER_FIELDS:
        if (
            isinstance(value, bool)
            or not isinstance(value, Real | Decimal)
            or not math.isfinite(float(value))
        ):
            raise ValueError(f"{field} {value!r} is not a number")
        number = float(value)
        low, high = _SCORE_RANGE
        if not low <= number <= high:
            raise ValueError(f"{field} {number} is outside {low:g}-{high:g}")
        return number
    return str(value)
