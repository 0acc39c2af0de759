"""Audience exports: CSV or Parquet, plain or with ad-platform-ready hashed identifiers."""

import hashlib
from pathlib import Path

import pandas as pd

from connectors.safe_csv import write_csv

FORMATS = ("csv", "parquet")


def _sha256(value: object) -> str | None:
    # Missing values arrive as None or NaN from the warehouse; neither is an identifier.
    return hashlib.sha256(value.encode("utf-8")).hexdigest() if isinstance(value, str) and value else None


def hash_email(email: str | None) -> str | None:
    """SHA-256 of an email as ad platforms expect it: trimmed and lower-cased first.

    Args:
        email: The address, or None.

    Returns:
        64 hex characters, or None.
    """
    return _sha256(email.strip().lower() if isinstance(email, str) else None)


def hash_phone(phone_e164: str | None) -> str | None:
    """SHA-256 of an E.164 phone number (``+`` and digits only).

    Args:
        phone_e164: The number in E.164, or None.

    Returns:
        64 hex characters, or None.
    """
    return _sha256(phone_e164.strip() if isinstance(phone_e164, str) else None)


def export_members(frame: pd.DataFrame, path: Path, fmt: str, hashed: bool) -> int:
    """Write an audience's members to a file.

    Args:
        frame: Members as in ``audiences.<name>`` (customer_id, email, phone_e164, ...).
        path: File to write.
        fmt: ``csv`` or ``parquet``. A CSV cell that a spreadsheet would run as a formula gets a
            leading ``'`` (``connectors.safe_csv``); E.164 phones and hashes are written as they are.
        hashed: Replace email and phone with their SHA-256 (``email_sha256``, ``phone_sha256``),
            computed from the values as stored.

    Returns:
        Rows written.

    Raises:
        ValueError: ``fmt`` is not one of ``FORMATS``.
        OSError: The file cannot be written.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format '{fmt}' is not one of {', '.join(FORMATS)}")
    out = frame[["customer_id", "email", "phone_e164"]].copy()
    if hashed:
        out = pd.DataFrame(
            {
                "customer_id": out["customer_id"],
                "email_sha256": [hash_email(v) for v in out["email"]],
                "phone_sha256": [hash_phone(v) for v in out["phone_e164"]],
            }
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        write_csv(out, path)
    else:
        out.to_parquet(path, index=False)
    return len(out)
