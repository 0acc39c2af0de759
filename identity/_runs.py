"""Choosing between an incremental run and a full reconcile.

An incremental run links only new records. Anything it cannot do honestly makes the run a full
reconcile: a changed or removed record (its old links may no longer hold), a changed model,
threshold, size limit or steward decision (every link may change), no earlier run, too many new
records at once (they could merge existing customers, which only a full run may do), or a request
for one (the scheduled weekly reconcile).
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

MODES = ("auto", "full")
# Columns whose change can change who a record is linked to.
MATCHED_COLUMNS = (
    "source",
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "company_name",
    "country",
    "crm_contact_id",
)


@dataclass(frozen=True)
class RunPlan:
    """What an identity run will do.

    Attributes:
        mode: ``full``, ``incremental`` or ``unchanged`` (nothing new: the last result stands).
        reason: Why, for the run metadata and the run log table.
        new: Record ids not resolved before.
        changed: Record ids whose matched columns changed since they were resolved.
        removed: Record ids resolved before and gone now.
    """

    mode: str
    reason: str
    new: list[str]
    changed: list[str]
    removed: list[str]


def fingerprints(records: pd.DataFrame) -> pd.Series:
    """Hash each record's matched columns, so a later run sees which records changed.

    Args:
        records: Person records (``intermediate.int_person_records`` layout).

    Returns:
        A hex digest per record, indexed by record id.
    """
    columns = [c for c in MATCHED_COLUMNS if c in records]
    hashed = pd.util.hash_pandas_object(records[columns].astype("string"), index=False)
    return pd.Series(
        hashed.map(lambda h: f"{h:016x}").to_numpy(), index=records["record_id"].astype(str), dtype="string"
    )


def config_signature(
    model_path: str | Path, overrides_path: str | Path | None, threshold: float, max_cluster_size: int | None
) -> str:
    """Digest of everything besides the records that decides the links.

    Args:
        model_path: The saved model.
        overrides_path: The stewards' overrides file (None or a missing file: no decisions).
        threshold: The match probability threshold.
        max_cluster_size: The size limit.

    Returns:
        A SHA-256 hex digest.
    """
    digest = hashlib.sha256(Path(model_path).read_bytes())
    if overrides_path is not None and Path(overrides_path).exists():
        digest.update(Path(overrides_path).read_bytes())
    digest.update(f"|{threshold!r}|{max_cluster_size!r}".encode())
    return digest.hexdigest()


def plan_run(
    current: pd.Series,
    previous: pd.Series | None,
    signature: str,
    previous_signature: str | None,
    requested: str = "auto",
    max_new_share: float = 0.1,
) -> RunPlan:
    """Decide how to resolve this run's records.

    Args:
        current: ``fingerprints`` of this run's records.
        previous: The fingerprints stored by the last run, or None if there was none.
        signature: ``config_signature`` now.
        previous_signature: The signature the last run used, or None.
        requested: ``auto`` (incremental when it is safe) or ``full``.
        max_new_share: Above this share of new records a full reconcile runs instead.

    Returns:
        The plan.

    Raises:
        ValueError: ``requested`` is not one of ``MODES``.
    """
    if requested not in MODES:
        raise ValueError(f"identity mode must be one of {', '.join(MODES)}, not '{requested}'")
    if previous is None:
        return RunPlan("full", "no earlier identity run", list(current.index), [], [])
    new = current.index.difference(previous.index)
    removed = previous.index.difference(current.index)
    both = current.index.intersection(previous.index)
    changed = both[current[both].to_numpy() != previous[both].to_numpy()]
    plan = {"new": list(new), "changed": list(changed), "removed": list(removed)}
    if requested == "full":
        return RunPlan("full", "full reconcile requested", **plan)
    if signature != previous_signature:
        return RunPlan("full", "model, threshold, size limit or steward decisions changed", **plan)
    if len(changed) or len(removed):
        return RunPlan("full", f"{len(changed)} changed and {len(removed)} removed record(s)", **plan)
    if len(new) > max_new_share * max(len(previous), 1):
        return RunPlan("full", f"{len(new)} new records exceed {max_new_share:.0%} of the known ones", **plan)
    if not len(new):
        return RunPlan("unchanged", "no new, changed or removed records", **plan)
    return RunPlan("incremental", f"{len(new)} new record(s) linked into the existing customers", **plan)
