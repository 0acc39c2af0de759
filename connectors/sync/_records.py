"""Turning the pipeline's DataFrame into normalised records with checksums.

The checksum is the sha256 of the canonical JSON of the values sent, keyed by CRM column, so a
changed value or a changed field mapping both cause a resend. ``synced_at`` is excluded: it
changes on every write and says nothing about the data.
"""

import hashlib
import json
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from numbers import Integral, Real
from typing import Any

import pandas as pd

from connectors.sync._target import SyncConfigError

SCORE_FIELDS = frozenset({"health_score"})
_SCORE_RANGE = (0.0, 100.0)


@dataclass
class Record:
    """One input row, ready to diff and send.

    Attributes:
        record_key: The record key as text, the key of the sync state.
        key: The record key as given (int when it is integral), bound into SQL.
        values: Destination field -> value for the data fields (no ``synced_at``).
        checksum: sha256 of the canonical JSON of ``values``; empty when ``error`` is set.
        error: Why the row cannot be sent, or None.
    """

    record_key: str | None
    key: int | str | None
    values: dict[str, Any]
    checksum: str
    error: str | None = None


def build_records(
    frame: pd.DataFrame,
    *,
    key_column: str,
    fields: Mapping[str, str],
    score_fields: Collection[str] = SCORE_FIELDS,
    lowercase_keys: bool = False,
) -> list[Record]:
    """Normalise the input rows and compute their checksums.

    Args:
        frame: One row per record: ``key_column`` plus the input columns named in ``fields``.
        key_column: Input column holding the record key.
        fields: Input column -> destination field; only these are sent.
        score_fields: Input columns that must hold a number within 0-100.
        lowercase_keys: Lower-case text keys (e-mail addresses, which HubSpot stores lower-cased).

    Returns:
        One record per input row, in input order; rows that cannot be sent carry an ``error``
        (missing key, a score not a number within 0-100). Rows sharing a key are kept: the engine
        reports them as a conflict, since what counts as one key is the destination's to say.

    Raises:
        SyncConfigError: The DataFrame lacks the key column or a mapped field column.
    """
    missing = [c for c in (key_column, *fields) if c not in frame.columns]
    if missing:
        raise SyncConfigError(
            f"input DataFrame lacks column(s) {', '.join(missing)}; provide them or remove the field(s) "
            f"from the field mapping"
        )
    keys = [normalize_key(v) for v in frame[key_column].tolist()]
    if lowercase_keys:
        keys = [k.lower() if isinstance(k, str) else k for k in keys]
    columns = {f: frame[f].tolist() for f in fields}
    records = []
    for i, key in enumerate(keys):
        record_key = None if key is None else str(key)
        if key is None:
            records.append(Record(None, None, {}, "", f"{key_column} is empty"))
            continue
        try:
            values = {
                target: _value(column, columns[column][i], column in score_fields)
                for column, target in fields.items()
            }
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


def _value(field: str, value: Any, score: bool) -> Any:
    if _missing(value):
        return None
    if score:
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
