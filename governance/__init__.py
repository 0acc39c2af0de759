"""Governance: the tamper-evident audit log (append-only, hash-chained, anchored).

Only appends and reads are offered: there is no update or delete, and ``verify`` reports any
record changed, removed or reordered behind the library's back.
"""

from governance._audit import (
    GENESIS_HASH,
    Verification,
    anchor,
    anchors_file,
    append,
    digest,
    records,
    verify,
)

__all__ = ["GENESIS_HASH", "Verification", "anchor", "anchors_file", "append", "digest", "records", "verify"]
