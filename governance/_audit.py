"""The hash-chained audit log ``governance.audit_log``: append, read, verify, anchor.

Each record's ``hash`` is the SHA-256 of its canonical encoding, which includes the previous
record's hash, so changing, removing or reordering any record breaks every later link. Truncating
the tail leaves a shorter chain that is still consistent; the anchors file (the head's seq and
hash written down from time to time) is what makes that visible.

Canonical record encoding (format ``cdp-audit-v1``): the JSON array
``["cdp-audit-v1", seq, recorded_at, actor, action, entity_type, entity_id, before_digest,
after_digest, details, prev_hash]``, written with ``json.dumps(..., ensure_ascii=False,
separators=(",", ":"))`` and encoded as UTF-8. ``seq`` is a JSON integer, ``recorded_at`` the UTC
time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, absent digests ``null``, ``details`` the canonical JSON
text of the details (a JSON string inside the array). Canonical JSON of a value (details and the
digests' input): ``json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
allow_nan=False)``, dates and times as ISO 8601.
"""

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from connectors import warehouse

SCHEMA = "governance"
TABLE = "audit_log"
FORMAT = "cdp-audit-v1"
GENESIS_HASH = "0" * 64
_NAME = f"{SCHEMA}.{TABLE}"
_FIELDS = (
    "seq",
    "recorded_at",
    "actor",
    "action",
    "entity_type",
    "entity_id",
    "before_digest",
    "after_digest",
    "details",
    "prev_hash",
)
_COLUMNS = (*_FIELDS, "hash")
# seq is the primary key so that two writers racing for the same seq fail instead of forking the chain.
_DDL = f"""
CREATE TABLE IF NOT EXISTS {_NAME} (
    seq BIGINT PRIMARY KEY,
    recorded_at TIMESTAMP NOT NULL,
    actor VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    entity_type VARCHAR NOT NULL,
    entity_id VARCHAR NOT NULL,
    before_digest VARCHAR,
    after_digest VARCHAR,
    details VARCHAR NOT NULL,
    prev_hash VARCHAR NOT NULL,
    hash VARCHAR NOT NULL
)
"""
_BATCH = 10_000


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON: pass plain str/int/float/bool/list/dict values")


def canonical_json(value: object) -> str:
    """Encode a value as canonical JSON: sorted keys, no spaces, UTF-8 text, dates as ISO 8601.

    Args:
        value: JSON-like data (dict, list, str, int, float, bool, None, date, datetime).

    Returns:
        The one text every equal value encodes to.
    """
    return json.dumps(
        value,
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
        default=_json_default,
    )


def digest(value: object) -> str:
    """SHA-256 of a value's canonical JSON: shows a state changed without storing the state.

    A digest of a single low-entropy personal value (an email, a phone number) can be guessed by
    hashing candidates, so digest whole records or row keys, not lone personal fields.

    Args:
        value: JSON-like data.

    Returns:
        The hex digest.
    """
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def _timestamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_hash(record: dict) -> str:
    """Compute a record's chain hash from its fields (every field but ``hash``, in the fixed order).

    Args:
        record: The record's fields; ``recorded_at`` a naive UTC datetime.

    Returns:
        The hex SHA-256 of the canonical record encoding (see the module docstring).
    """
    values = [record[field] for field in _FIELDS]
    values[1] = _timestamp(record["recorded_at"])
    encoded = json.dumps([FORMAT, *values], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def _head(con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
    rows = con.execute(f"SELECT seq, hash FROM {_NAME} ORDER BY seq DESC LIMIT 1").fetchall()
    return (rows[0][0], rows[0][1]) if rows else (0, GENESIS_HASH)


def append(
    con: duckdb.DuckDBPyConnection,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    before: object = None,
    after: object = None,
    details: dict | None = None,
) -> dict:
    """Append one record to the audit log, chained to the current head.

    ``before`` and ``after`` are digested here and never stored, so a caller cannot put raw values
    into the log by mistake; ``details`` is stored as is and must hold no personal data (rule
    names, counts, field names).

    Args:
        con: The warehouse connection holding the write lock (DuckDB is single-writer, so the seq
            read and the insert cannot interleave with another process).
        actor: Who did it (a user name or a service name).
        action: What was done, ``area.verb`` (``quarantine.release``).
        entity_type: Kind of thing acted on (``table``, ``customer``).
        entity_id: Which one (``raw_marketing.lead_forms``).
        before: The state before, digested; None when there was none.
        after: The state after, digested; None when there is none.
        details: Non-personal JSON-like facts about the action.

    Returns:
        The record as stored, with its ``seq`` and ``hash``.
    """
    for name, value in (
        ("actor", actor),
        ("action", action),
        ("entity_type", entity_type),
        ("entity_id", entity_id),
    ):
        if not value or not value.strip():
            raise ValueError(f"audit record needs a non-empty {name}")
    record = {
        "recorded_at": datetime.now(UTC).replace(tzinfo=None),
        "actor": actor,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "before_digest": None if before is None else digest(before),
        "after_digest": None if after is None else digest(after),
        "details": canonical_json(details or {}),
    }
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    con.execute(_DDL)
    con.execute("BEGIN TRANSACTION")
    try:
        head_seq, head_hash = _head(con)
        record["seq"] = head_seq + 1
        record["prev_hash"] = head_hash
        record["hash"] = record_hash(record)
        placeholders = ", ".join("?" for _ in _COLUMNS)
        con.execute(
            f"INSERT INTO {_NAME} ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
            [record[c] for c in _COLUMNS],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return {c: record[c] for c in _COLUMNS}


def records(con: duckdb.DuckDBPyConnection, *, limit: int = 20, action: str | None = None) -> list[dict]:
    """Read the newest audit records, newest first.

    Args:
        con: Open warehouse connection (read-only is enough).
        limit: At most this many records.
        action: Only records of this action.

    Returns:
        The records as dicts of the table's columns; empty when the log does not exist yet.
    """
    if not warehouse.table_exists(con, SCHEMA, TABLE):
        return []
    where, params = ("WHERE action = ?", [action]) if action else ("", [])
    cursor = con.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM {_NAME} {where} ORDER BY seq DESC LIMIT ?", [*params, limit]
    )
    return [dict(zip(_COLUMNS, row, strict=True)) for row in cursor.fetchall()]


@dataclass(frozen=True)
class Verification:
    """What ``verify`` found.

    Attributes:
        records: Records in the chain.
        head_seq: Seq of the last record that verified (0 for an empty chain).
        head_hash: Hash of that record (the genesis value for an empty chain).
        anchors: Anchors checked.
        broken_seq: The first seq whose link is broken, or None when the chain is intact.
        problem: ``seq_gap``, ``hash_mismatch``, ``prev_hash_mismatch``, ``anchor_mismatch`` or
            ``truncated``; None when intact.
        detail: One sentence on what is wrong.
    """

    records: int
    head_seq: int
    head_hash: str
    anchors: int
    broken_seq: int | None = None
    problem: str | None = None
    detail: str = ""

    @property
    def intact(self) -> bool:
        """True when every link and every anchor checked out."""
        return self.problem is None


def anchors_file(warehouse_path: str | Path) -> Path:
    """The default anchors file, beside the warehouse: ``<warehouse dir>/audit/anchors.jsonl``.

    Args:
        warehouse_path: The DuckDB file.

    Returns:
        The anchors file path (it may not exist yet).
    """
    return Path(warehouse_path).parent / "audit" / "anchors.jsonl"


def read_anchors(path: str | Path) -> list[dict]:
    """Read the anchors file: one JSON object ``{"seq", "hash", "anchored_at"}`` per line.

    Args:
        path: The anchors file; a missing file has no anchors.

    Returns:
        The anchors in file order.

    Raises:
        ValueError: A line is not an anchor (names the file and line).
    """
    path = Path(path)
    if not path.exists():
        return []
    anchors = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            anchor_record = json.loads(line)
            seq, hash_ = anchor_record["seq"], anchor_record["hash"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ValueError(
                f"{path} line {number} is not an anchor (a JSON object with seq and hash); "
                "restore the file from its copy"
            ) from None
        if not isinstance(seq, int) or seq < 1 or not isinstance(hash_, str):
            raise ValueError(f"{path} line {number}: seq must be a positive integer and hash a string")
        anchors.append(anchor_record)
    return anchors


def verify(con: duckdb.DuckDBPyConnection, anchors: str | Path | None = None) -> Verification:
    """Recompute the chain in seq order and report its first broken link.

    Checks per record, in this order: seq follows the previous one by 1 (the first is 1), the
    stored hash equals the recomputed one, prev_hash equals the previous record's hash (the
    genesis value for the first), and the hash equals any anchor at that seq. After the last
    record, an anchor beyond the head means the tail was deleted.

    Args:
        con: Open warehouse connection (read-only is enough).
        anchors: The anchors file, or None to check the chain alone.

    Returns:
        The verification; ``broken_seq`` and ``problem`` say where and what when not intact.
    """
    anchored: dict[int, list[str]] = {}
    anchor_list = read_anchors(anchors) if anchors is not None else []
    for anchor_record in anchor_list:
        anchored.setdefault(anchor_record["seq"], []).append(anchor_record["hash"])
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0

    def broken(seq: int, problem: str, detail: str) -> Verification:
        return Verification(count, expected_seq - 1, prev_hash, len(anchor_list), seq, problem, detail)

    if warehouse.table_exists(con, SCHEMA, TABLE):
        # Streamed in batches: the log grows without bound and only one record is needed at a time.
        cursor = con.execute(f"SELECT {', '.join(_COLUMNS)} FROM {_NAME} ORDER BY seq")
        while batch := cursor.fetchmany(_BATCH):
            for row in batch:
                record = dict(zip(_COLUMNS, row, strict=True))
                seq = record["seq"]
                if seq != expected_seq:
                    return broken(
                        seq,
                        "seq_gap",
                        f"expected seq {expected_seq}, found {seq}: records removed or renumbered",
                    )
                if record_hash(record) != record["hash"]:
                    return broken(seq, "hash_mismatch", "the stored hash does not match the record's fields")
                if record["prev_hash"] != prev_hash:
                    return broken(seq, "prev_hash_mismatch", f"prev_hash is not the hash of seq {seq - 1}")
                if any(h != record["hash"] for h in anchored.get(seq, [])):
                    return broken(
                        seq, "anchor_mismatch", "the record differs from the one anchored at this seq"
                    )
                count, expected_seq, prev_hash = count + 1, seq + 1, record["hash"]
    beyond = [seq for seq in anchored if seq >= expected_seq]
    if beyond:
        return broken(
            expected_seq,
            "truncated",
            f"an anchor records seq {max(beyond)} but the chain ends at seq {expected_seq - 1}: "
            "records were deleted from the tail",
        )
    return Verification(count, expected_seq - 1, prev_hash, len(anchor_list))


def anchor(con: duckdb.DuckDBPyConnection, path: str | Path) -> dict | None:
    """Append the chain's head (seq, hash, time) to the anchors file, after verifying the chain.

    Refusing to anchor a broken chain keeps an anchor from vouching for tampered records; a head
    that is already the last anchor is not written again, so anchoring on a schedule stays cheap.

    Args:
        con: Open warehouse connection (read-only is enough).
        path: The anchors file (JSON lines; created with its folder when missing).

    Returns:
        The head's anchor ``{"seq", "hash", "anchored_at"}``, or None when the log is empty.

    Raises:
        ValueError: The chain does not verify (the message names the first broken seq).
    """
    result = verify(con, path)
    if not result.intact:
        raise ValueError(f"not anchored: the chain is broken at seq {result.broken_seq} ({result.detail})")
    if result.records == 0:
        return None
    existing = read_anchors(path)
    if existing and (existing[-1]["seq"], existing[-1]["hash"]) == (result.head_seq, result.head_hash):
        return existing[-1]
    head = {
        "seq": result.head_seq,
        "hash": result.head_hash,
        "anchored_at": _timestamp(datetime.now(UTC).replace(tzinfo=None)),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(head, sort_keys=True) + "\n")
        handle.flush()
        # An anchor that a crash can lose proves nothing: make it durable before reporting it.
        os.fsync(handle.fileno())
    return head
