"""The destination-independent sync engine: diff, plan, guard, write, confirm.

Every destination (SQL CRM, HubSpot) implements ``Destination``; the engine decides what to send
and records only what the destination confirmed. Per batch: the destination writes, then the
state, dead letters and log of that batch are saved in one warehouse transaction. A crash in
between costs a resend of one batch (every write is idempotent by record key), never a lost
change nor a record marked synced that was not.

Input records that map to the same destination record (customers sharing an e-mail address, two
spellings of one CRM contact id) would overwrite each other, or make HubSpot refuse their whole
batch: none of them is sent, and each key gets a ``skip_conflict`` dead letter naming how many
records share it, resolved once only one does. A conflict is reported, never a failure.
"""

import json
import logging
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import duckdb

from connectors.sync import _state
from connectors.sync._records import Record, checksum
from connectors.sync._target import SyncError, SyncResult

log = logging.getLogger(__name__)

Mode = Literal["upsert", "update_only", "create_only", "mirror"]
MODES: tuple[str, ...] = ("upsert", "update_only", "create_only", "mirror")
_MAX_RESULT_ERRORS = 5
# Destinations quote the refused value ("Email address x@y is invalid"); results and logs must not.
_EMAIL = re.compile(r"[^\s@'\"<>()]+@[^\s@'\"<>()]+")


class CircuitBreakerOpen(SyncError):
    """More records would be updated or deleted than the policy allows; nothing was written."""


class DestinationUnavailable(SyncError):
    """The destination stopped accepting writes for now (daily limit, outage); retry later."""


@dataclass(frozen=True)
class Change:
    """One record to write or delete.

    Attributes:
        record_key: The record key (the sync-state key).
        key: The key as the destination binds it (e.g. int for an integer column).
        values: Destination field -> value to write (empty for a delete).
        destination_id: The destination's id, when known from the state or a lookup.
    """

    record_key: str
    key: Any
    values: dict[str, Any]
    destination_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What the destination did with one change.

    Attributes:
        record_key: The record key.
        operation: ``insert``, ``update`` or ``delete``.
        error: The destination's error message, or None when confirmed.
        retryable: For errors: a transient failure (rate limit, outage, timeout) rather than a
            refusal of the values.
        destination_id: The destination's id of the record, when it returned one.
    """

    record_key: str
    operation: str
    error: str | None = None
    retryable: bool = False
    destination_id: str | None = None


class Destination(Protocol):
    """What the engine needs from a destination."""

    name: str
    object_type: str
    key_name: str
    batch_size: int
    overwrite_nulls: bool

    def prepare(self, dry_run: bool) -> bool:
        """Check (and unless ``dry_run``, create) what the writes need: tables, custom properties.

        Returns True when the destination is new and so holds nothing, whatever the state says.
        """

    def match_key(self, record_key: str, key: Any) -> str:
        """Return the key the destination matches records on (called after ``prepare``).

        Two input records with the same match key would write the same destination record.
        """

    def lookup(self, changes: Sequence[Change]) -> dict[str, str]:
        """Return record_key -> destination id for the records that already exist."""

    def write(self, changes: Sequence[Change], operation: str) -> list[Outcome]:
        """Write one batch (``upsert``, ``update`` or ``create``); one outcome per change."""

    def delete(self, changes: Sequence[Change]) -> list[Outcome]:
        """Delete one batch of records this tool created; one outcome per change."""

    def read(self, record_keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Read the current values of records, for the read-back check."""

    def close(self) -> None:
        """Release connections."""


@dataclass(frozen=True)
class SyncPolicy:
    """How a sync may change the destination.

    Attributes:
        mode: ``upsert`` creates or updates; ``update_only`` never creates; ``create_only`` never
            touches an existing record; ``mirror`` upserts and deletes the records that left the
            input, but only those this tool created.
        overwrite_nulls: When False, a missing value never replaces a destination value.
        crm_owned_fields: Destination fields the CRM owns: never written, even when mapped.
        max_change_share: Circuit breaker: abort before writing when updates plus deletes exceed
            this share of the records already synced. None disables it.
        breaker_min_records: The breaker only applies once this many records were synced (small
            populations trip it by chance).
        dry_run: Plan only: no write, no state, no log.
        full_refresh: Ignore the stored checksums and send every valid record.
    """

    mode: Mode = "upsert"
    overwrite_nulls: bool = False
    crm_owned_fields: frozenset[str] = field(default_factory=frozenset)
    max_change_share: float | None = 0.5
    breaker_min_records: int = 100
    dry_run: bool = False
    full_refresh: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise SyncError(f"sync mode '{self.mode}' is unknown; use one of {', '.join(MODES)}")
        if self.max_change_share is not None and not 0 <= self.max_change_share <= 1:
            raise SyncError(f"max_change_share {self.max_change_share} must be between 0 and 1")


def run_sync(
    records: Sequence[Record],
    destination: Destination,
    con: duckdb.DuckDBPyConnection,
    policy: SyncPolicy,
    *,
    run_id: str | None = None,
) -> SyncResult:
    """Send the new and changed records to a destination and record what it confirmed.

    Args:
        records: One per input row (``build_records``); rows carrying an ``error`` go to the dead
            letters as permanent failures.
        destination: Where to write.
        con: Open DuckDB warehouse connection for ``sync.*``; the caller opens and closes it.
        policy: Mode and safety settings.
        run_id: Identifier for state and log rows; a new one if None.

    Returns:
        The run's counts; in a dry run, the plan (creates/updates/deletes and changes per field).

    Raises:
        CircuitBreakerOpen: Too many updates or deletes; nothing was written.
        SyncError: The destination cannot be reached or does not fit; nothing was written.
    """
    started = time.monotonic()
    run_id = run_id or uuid.uuid4().hex
    at = _now()
    state = _state.load_state(con, destination.name, destination.object_type)
    dead = _state.load_dead_letters(con, destination.name, destination.object_type)
    if not policy.dry_run:
        _state.ensure_tables(con)
    tally = _Tally(dead)
    unchanged = 0
    skipped_dead: list[str] = []
    try:
        if destination.prepare(policy.dry_run):
            state = {}
        shared = _shared_keys(records, destination)
        conflicted = {r.record_key for group in shared.values() for r in group}
        tally.conflicts = sum(len(group) for group in shared.values())
        invalid = [r for r in records if r.error is not None and r.record_key not in conflicted]
        changes: list[Change] = []
        checksums: dict[str, str] = {}
        for record in records:
            if record.error is not None or record.record_key in conflicted:
                continue
            values = _payload(record.values, policy)
            digest = checksum(values)
            previous = state.get(record.record_key)
            if not policy.full_refresh and previous is not None and previous.checksum == digest:
                unchanged += 1
                continue
            letter = dead.get(record.record_key)
            if (
                letter is not None
                and not letter.retryable
                and letter.checksum == digest
                and not policy.full_refresh
            ):
                # Refused before with these exact values: resending cannot succeed.
                skipped_dead.append(record.record_key)
                continue
            checksums[record.record_key] = digest
            changes.append(
                Change(record.record_key, record.key, values, previous.destination_id if previous else None)
            )
        inputs = {r.record_key for r in records if r.record_key is not None}
        deletions = (
            [
                Change(key, key, {}, row.destination_id)
                for key, row in state.items()
                if row.created_by_sync and key not in inputs
            ]
            if policy.mode == "mirror"
            else []
        )
        updates = sum(1 for c in changes if c.record_key in state)
        _guard(policy, len(state), updates, len(deletions), destination.name)
        for record in invalid:
            tally.fail(record.record_key, record.error or "", retryable=False)

        if policy.dry_run:
            return _plan(
                destination,
                policy,
                len(records),
                changes,
                deletions,
                state,
                unchanged,
                skipped_dead,
                tally,
                run_id,
                started,
            )

        letters, conflict_log = _conflict_letters(shared, dead, destination.key_name)
        ended = [
            key
            for key, letter in dead.items()
            if letter.operation == _state.CONFLICT and key not in conflicted
        ]
        _save(
            con,
            destination,
            run_id,
            at,
            failures=[
                *(
                    _state.Failure(r.record_key, "insert", "", {}, r.error or "", retryable=False)
                    for r in invalid
                    if r.record_key is not None
                ),
                *letters,
            ],
            resolved=ended,
            log=[
                *(_state.LogEntry(r.record_key, "insert", "error", r.error, 1, False) for r in invalid),
                _state.LogEntry(None, "skip_unchanged", "ok", None, unchanged),
                *(_state.LogEntry(k, "skip_dead_letter", "skipped") for k in skipped_dead),
                *conflict_log,
            ],
        )
        _write(con, destination, policy, changes, checksums, state, run_id, tally)
        if policy.mode == "mirror":
            _delete(con, destination, deletions, run_id, tally)
    except DestinationUnavailable as exc:
        tally.aborted = str(exc)
        log.warning("sync %s run %s stopped: %s", destination.name, run_id, exc)
    finally:
        destination.close()

    result = SyncResult(
        run_id=run_id,
        destination=destination.name,
        considered=len(records),
        unchanged=unchanged,
        inserted=tally.ops["insert"],
        updated=tally.ops["update"],
        failed=tally.failed_permanent + tally.failed_retryable,
        duration_s=round(time.monotonic() - started, 3),
        dry_run=False,
        errors=tally.messages(),
        deleted=tally.ops["delete"],
        skipped=tally.skipped + len(skipped_dead) + tally.conflicts,
        retryable_failed=tally.failed_retryable,
        aborted=tally.aborted,
        conflicts=tally.conflicts,
        new_failures=tally.new_failures,
    )
    log.info(
        "sync %s run %s: %d considered, %d unchanged, %d inserted, %d updated, %d deleted, %d failed "
        "(%d new), %d not sent for a shared key",
        result.destination,
        run_id,
        result.considered,
        result.unchanged,
        result.inserted,
        result.updated,
        result.deleted,
        result.failed,
        result.new_failures,
        result.conflicts,
    )
    return result


@dataclass
class _Tally:
    dead: Mapping[str, _state.Letter]
    ops: Counter = field(default_factory=Counter)
    failed_permanent: int = 0
    failed_retryable: int = 0
    new_failures: int = 0
    skipped: int = 0
    conflicts: int = 0
    errors: list[str] = field(default_factory=list)
    aborted: str | None = None

    def fail(self, record_key: str | None, error: str, retryable: bool) -> None:
        """Count one failure; it is new unless the record's open dead letter says the same."""
        if retryable:
            self.failed_retryable += 1
        else:
            self.failed_permanent += 1
        letter = self.dead.get(record_key) if record_key is not None else None
        if letter is None or letter.operation == _state.CONFLICT or letter.error != error:
            self.new_failures += 1
        self.errors.append(error)

    def messages(self) -> tuple[str, ...]:
        """The distinct error messages, e-mail addresses masked, at most five."""
        return tuple(dict.fromkeys(redact(e) for e in self.errors if e))[:_MAX_RESULT_ERRORS]


def redact(message: str) -> str:
    """Mask e-mail addresses in a destination's error message before it reaches results or logs.

    Args:
        message: The message as the destination wrote it (kept whole in ``sync.dead_letters``).

    Returns:
        The message with every e-mail address replaced by ``<email>``.
    """
    return _EMAIL.sub("<email>", message)


def _payload(values: Mapping[str, Any], policy: SyncPolicy) -> dict[str, Any]:
    """The fields to send: CRM-owned ones dropped, and nulls too unless they may overwrite."""
    return {
        name: value
        for name, value in values.items()
        if name not in policy.crm_owned_fields and (value is not None or policy.overwrite_nulls)
    }


def _shared_keys(records: Sequence[Record], destination: Destination) -> dict[str, list[Record]]:
    """Destination key -> the input records mapping to it, for keys more than one record maps to."""
    groups: dict[str, list[Record]] = {}
    for record in records:
        if record.record_key is not None:
            groups.setdefault(destination.match_key(record.record_key, record.key), []).append(record)
    return {key: group for key, group in groups.items() if len(group) > 1}


def _conflict_letters(
    shared: Mapping[str, list[Record]], dead: Mapping[str, _state.Letter], key_name: str
) -> tuple[list[_state.Failure], list[_state.LogEntry]]:
    """One ``skip_conflict`` dead letter and log row per record key of a shared destination key.

    A letter is written only when new or when the records sharing the key changed, so an unchanged
    rerun rewrites nothing; the log row is written every run.
    """
    letters, entries = [], []
    for group in shared.values():
        reason = f"{len(group)} input records share this {key_name}; none of them is sent while they do"
        members = [
            {"record_key": r.record_key, **({"values": r.values} if r.error is None else {"error": r.error})}
            for r in group
        ]
        payload = {"records": sorted(members, key=lambda m: json.dumps(m, sort_keys=True, default=str))}
        digest = checksum(payload)
        for record_key in sorted({r.record_key for r in group if r.record_key is not None}):
            entries.append(_state.LogEntry(record_key, _state.CONFLICT, "skipped", reason, len(group)))
            letter = dead.get(record_key)
            if letter is None or letter.operation != _state.CONFLICT or letter.checksum != digest:
                letters.append(_state.Failure(record_key, _state.CONFLICT, digest, payload, reason, False))
    return letters, entries


def _guard(policy: SyncPolicy, known: int, updates: int, deletes: int, name: str) -> None:
    if policy.max_change_share is None or known < policy.breaker_min_records:
        return
    share = (updates + deletes) / known
    if share > policy.max_change_share:
        raise CircuitBreakerOpen(
            f"sync {name}: {updates} updates and {deletes} deletes would touch {share:.0%} of the "
            f"{known} records already synced, above the {policy.max_change_share:.0%} limit; nothing "
            f"was written. Check the upstream data, then rerun with a higher limit "
            f"(CDP_SYNC_MAX_CHANGE_SHARE) if the change is intended"
        )


def _write(
    con: duckdb.DuckDBPyConnection,
    destination: Destination,
    policy: SyncPolicy,
    changes: list[Change],
    checksums: dict[str, str],
    state: Mapping[str, _state.StateRow],
    run_id: str,
    tally: _Tally,
) -> None:
    by_key = {c.record_key: c for c in changes}
    for batch in _chunks(changes, destination.batch_size):
        operation = "upsert"
        pre: list[Outcome] = []
        skipped: list[str] = []
        if policy.mode in ("update_only", "create_only"):
            found = destination.lookup(batch)
            if policy.mode == "update_only":
                operation = "update"
                pre = [
                    Outcome(
                        c.record_key,
                        "update",
                        "record not found in the destination; update-only mode never creates records",
                        retryable=True,
                    )
                    for c in batch
                    if c.record_key not in found
                ]
                batch = [
                    Change(c.record_key, c.key, c.values, found[c.record_key])
                    for c in batch
                    if c.record_key in found
                ]
            else:
                operation = "create"
                skipped = [c.record_key for c in batch if c.record_key in found]
                batch = [c for c in batch if c.record_key not in found]
        outcomes = pre + (destination.write(batch, operation) if batch else [])
        confirmed, failures, entries = [], [], []
        for outcome in outcomes:
            change = by_key[outcome.record_key]
            if outcome.error is None:
                tally.ops[outcome.operation] += 1
                previous = state.get(outcome.record_key)
                confirmed.append(
                    _state.Confirmed(
                        outcome.record_key,
                        checksums[outcome.record_key],
                        change.values,
                        created=outcome.operation == "insert",
                        destination_id=outcome.destination_id
                        or (previous.destination_id if previous else None),
                    )
                )
                entries.append(_state.LogEntry(outcome.record_key, outcome.operation, "ok"))
            else:
                tally.fail(outcome.record_key, outcome.error, outcome.retryable)
                failures.append(
                    _state.Failure(
                        outcome.record_key,
                        outcome.operation,
                        checksums[outcome.record_key],
                        change.values,
                        outcome.error,
                        outcome.retryable,
                    )
                )
                entries.append(
                    _state.LogEntry(
                        outcome.record_key, outcome.operation, "error", outcome.error, 1, outcome.retryable
                    )
                )
        tally.skipped += len(skipped)
        entries.extend(_state.LogEntry(k, "skip_exists", "skipped") for k in skipped)
        _save(con, destination, run_id, _now(), confirmed=confirmed, failures=failures, log=entries)


def _delete(
    con: duckdb.DuckDBPyConnection,
    destination: Destination,
    deletions: list[Change],
    run_id: str,
    tally: _Tally,
) -> None:
    for batch in _chunks(deletions, destination.batch_size):
        outcomes = destination.delete(batch)
        done = [o.record_key for o in outcomes if o.error is None]
        failures = [
            _state.Failure(o.record_key, "delete", "", {}, o.error, o.retryable) for o in outcomes if o.error
        ]
        tally.ops["delete"] += len(done)
        for failure in failures:
            tally.fail(failure.record_key, failure.error, failure.retryable)
        entries = [
            _state.LogEntry(
                o.record_key, "delete", "ok" if o.error is None else "error", o.error, 1, o.retryable
            )
            for o in outcomes
        ]
        _save(con, destination, run_id, _now(), deleted=done, failures=failures, log=entries)


def _plan(
    destination: Destination,
    policy: SyncPolicy,
    considered: int,
    changes: list[Change],
    deletions: list[Change],
    state: Mapping[str, _state.StateRow],
    unchanged: int,
    skipped_dead: list[str],
    tally: _Tally,
    run_id: str,
    started: float,
) -> SyncResult:
    found: dict[str, str] = {}
    for batch in _chunks(changes, destination.batch_size):
        found.update(destination.lookup(batch))
    creates = [c for c in changes if c.record_key not in found]
    updates = [c for c in changes if c.record_key in found]
    if policy.mode == "update_only":
        creates_planned, skipped = [], len(creates)
    elif policy.mode == "create_only":
        creates_planned, skipped, updates = creates, len(updates), []
    else:
        creates_planned, skipped = creates, 0
    fields: Counter = Counter()
    for change in [*creates_planned, *updates]:
        before = state[change.record_key].payload if change.record_key in state else {}
        fields.update(name for name, value in change.values.items() if before.get(name) != value)
    plan = {
        "create": len(creates_planned),
        "update": len(updates),
        "delete": len(deletions),
        "skip": skipped + len(skipped_dead) + tally.conflicts,
        "invalid": tally.failed_permanent,
        "fields": dict(sorted(fields.items())),
    }
    destination.close()
    return SyncResult(
        run_id=run_id,
        destination=destination.name,
        considered=considered,
        unchanged=unchanged,
        inserted=len(creates_planned),
        updated=len(updates),
        failed=plan["invalid"],
        duration_s=round(time.monotonic() - started, 3),
        dry_run=True,
        errors=tally.messages(),
        deleted=len(deletions),
        skipped=plan["skip"],
        plan=plan,
        conflicts=tally.conflicts,
        new_failures=tally.new_failures,
    )


def read_back(
    destination: Destination,
    con: duckdb.DuckDBPyConnection,
    *,
    sample: int = 20,
    seed: int | None = None,
) -> tuple[int, list[str]]:
    """Compare a sample of confirmed records with what the destination holds now.

    Args:
        destination: The destination to read from.
        con: Open warehouse connection holding ``sync.sync_state``.
        sample: How many records to read back.
        seed: Random seed of the sample (None: a new sample each time).

    Returns:
        (records checked, one message per mismatching field naming the record key and field).
    """
    state = _state.load_state(con, destination.name, destination.object_type)
    keys = sorted(k for k, row in state.items() if row.payload)
    chosen = random.Random(seed).sample(keys, min(sample, len(keys)))
    try:
        current = destination.read(chosen)
    finally:
        destination.close()
    problems = []
    for key in chosen:
        held = current.get(key)
        if held is None:
            problems.append(f"record {key}: missing from {destination.name}")
            continue
        problems.extend(
            f"record {key}: field {name} differs from what was confirmed"
            for name, value in state[key].payload.items()
            if not _same(value, held.get(name))
        )
    return len(chosen), problems


def _same(sent: Any, held: Any) -> bool:
    if sent is None or held is None:
        return (sent is None or sent == "") and (held is None or held == "")
    try:
        return float(sent) == float(held)
    except (TypeError, ValueError):
        return str(sent) == str(held)


def _save(con, destination: Destination, run_id: str, at: datetime, **kwargs: Any) -> None:
    _state.save(
        con, destination=destination.name, object_type=destination.object_type, run_id=run_id, at=at, **kwargs
    )


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _now() -> datetime:
    # Whole seconds, naive UTC: the warehouse convention, and what every CRM dialect stores exactly.
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
