"""HubSpot contacts or companies as a sync destination."""

from collections.abc import Sequence
from typing import Any

import duckdb
import pandas as pd

from connectors.hubspot._client import MAX_BATCH, HubSpotClient
from connectors.sync import Change, Outcome, SyncPolicy, SyncResult, build_records, run_sync

PROPERTY_GROUP = {"name": "cdp", "label": "Customer data platform", "displayOrder": -1}
"""The property group our custom properties live in."""

HEALTH_PROPERTIES: tuple[dict[str, Any], ...] = (
    {"name": "cdp_customer_id", "label": "CDP customer id", "type": "string", "fieldType": "text"},
    {"name": "cdp_health_score", "label": "CDP health score", "type": "number", "fieldType": "number"},
    {"name": "cdp_health_tier", "label": "CDP health tier", "type": "string", "fieldType": "text"},
    {"name": "cdp_health_drivers", "label": "CDP health drivers", "type": "string", "fieldType": "textarea"},
    {"name": "cdp_audiences", "label": "CDP audiences", "type": "string", "fieldType": "textarea"},
)
"""Custom properties the sync writes, created once if missing."""

CONTACT_FIELDS: dict[str, str] = {
    "customer_id": "cdp_customer_id",
    "health_score": "cdp_health_score",
    "health_tier": "cdp_health_tier",
    "health_drivers": "cdp_health_drivers",
}
"""Default mapping of input columns to HubSpot contact properties."""

_RETRYABLE_CATEGORIES = frozenset({"RATE_LIMITS", "INTERNAL_ERROR", "TIMEOUT", "LOCKED", "CONFLICT"})


class HubSpotDestination:
    """Writes properties of HubSpot contacts (or companies) in batches of at most 100.

    Upserts address records by ``id_property`` (``email`` for contacts), so a resend after a crash
    or a timeout updates the same record instead of creating a duplicate.

    Attributes:
        name: Destination name in sync state and logs.
        object_type: ``contacts`` or ``companies``.
        key_name: The id property records are matched on (``email``).
        batch_size: Inputs per batch call (at most 100).
        overwrite_nulls: Whether an empty value may clear a HubSpot value.
    """

    def __init__(
        self,
        client: HubSpotClient,
        *,
        object_type: str = "contacts",
        id_property: str = "email",
        properties: Sequence[dict[str, Any]] = HEALTH_PROPERTIES,
        batch_size: int = MAX_BATCH,
        overwrite_nulls: bool = False,
        name: str | None = None,
    ) -> None:
        self.client = client
        self.object_type = object_type
        self.id_property = id_property
        self.key_name = id_property
        self.properties = tuple(properties)
        self.batch_size = min(batch_size, MAX_BATCH)
        self.overwrite_nulls = overwrite_nulls
        self.name = name or f"hubspot:{object_type}"
        self._properties_ready = False

    def prepare(self, dry_run: bool) -> bool:
        """Nothing to check up front: custom properties are created before the first write.

        Args:
            dry_run: Only plan (then no write happens, so no property is created).

        Returns:
            False: a HubSpot portal is never new to the sync state.
        """
        self._properties_ready = False
        return False

    def match_key(self, record_key: str, key: Any) -> str:
        """Return the id property's value as HubSpot matches it: e-mail addresses regardless of case.

        Args:
            record_key: The record key.
            key: The key as given (unused: HubSpot matches the text).

        Returns:
            The value two records must not share within one sync.
        """
        return record_key.lower() if self.id_property == "email" else record_key

    def lookup(self, changes: Sequence[Change]) -> dict[str, str]:
        """Return record_key -> HubSpot id for the records that exist (``batch/read`` by id property)."""
        found = {}
        for start in range(0, len(changes), MAX_BATCH):
            keys = [c.record_key for c in changes[start : start + MAX_BATCH]]
            found.update({k: v["id"] for k, v in self._read(keys, []).items()})
        return found

    def read(self, record_keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Read the custom properties of records by id property."""
        names = [p["name"] for p in self.properties]
        current = {}
        for start in range(0, len(record_keys), MAX_BATCH):
            chunk = self._read(list(record_keys[start : start + MAX_BATCH]), names)
            current.update({k: v["properties"] for k, v in chunk.items()})
        return current

    def write(self, changes: Sequence[Change], operation: str) -> list[Outcome]:
        """Upsert (or, for ``update``, update by HubSpot id) one batch; one outcome per change."""
        if not self._properties_ready:
            # Created on the first write, so a run with nothing to send makes no call at all.
            self.client.ensure_properties(self.object_type, PROPERTY_GROUP, self.properties)
            self._properties_ready = True
        if operation == "update":
            inputs = [{"id": c.destination_id, "properties": self._values(c)} for c in changes]
            action = "update"
        else:
            # The id property is sent as a property too, so HubSpot echoes it in each result and
            # every confirmation maps back to its record whatever the order of the results.
            inputs = [
                {
                    "idProperty": self.id_property,
                    "id": c.record_key,
                    "properties": {**self._values(c), self.id_property: c.record_key},
                }
                for c in changes
            ]
            action = "upsert"
        response = self.client.batch(self.object_type, action, {"inputs": inputs})
        if response.status_code in (400, 409, 422) and len(changes) > 1:
            # HubSpot refuses a whole batch for one bad input: isolate it by sending one by one.
            return [o for c in changes for o in self.write([c], operation)]
        if response.status_code >= 300 and response.status_code != 207:
            message = _error_text(response)
            return [Outcome(c.record_key, _op(operation), message, retryable=False) for c in changes]
        return self._outcomes(changes, response.json(), operation)

    def delete(self, changes: Sequence[Change]) -> list[Outcome]:
        """Archive records this tool created (``batch/archive`` by HubSpot id)."""
        known = [c for c in changes if c.destination_id]
        outcomes = [
            Outcome(c.record_key, "delete", "HubSpot id unknown; cannot archive", retryable=False)
            for c in changes
            if not c.destination_id
        ]
        if known:
            response = self.client.batch(
                self.object_type, "archive", {"inputs": [{"id": c.destination_id} for c in known]}
            )
            error = None if response.status_code < 300 else _error_text(response)
            outcomes += [Outcome(c.record_key, "delete", error) for c in known]
        return outcomes

    def close(self) -> None:
        """Nothing to release: the client belongs to the caller."""

    def _values(self, change: Change) -> dict[str, Any]:
        # HubSpot clears a property given an empty string; null protection already dropped nulls.
        return {k: "" if v is None else v for k, v in change.values.items()}

    def _read(self, keys: list[str], properties: list[str]) -> dict[str, dict[str, Any]]:
        body = {
            "idProperty": self.id_property,
            "properties": [self.id_property, *properties],
            "inputs": [{"id": k} for k in keys],
        }
        response = self.client.batch(self.object_type, "read", body)
        if response.status_code == 404:
            return {}
        payload = self.client.checked(response) if response.status_code != 207 else response.json()
        return {str(r["properties"].get(self.id_property, "")).lower(): r for r in payload.get("results", [])}

    def _outcomes(self, changes: Sequence[Change], body: dict[str, Any], operation: str) -> list[Outcome]:
        by_id = {c.destination_id: c.record_key for c in changes if c.destination_id}
        outcomes: dict[str, Outcome] = {}
        for result in body.get("results", []):
            key = str((result.get("properties") or {}).get(self.id_property, "")).lower() or by_id.get(
                result.get("id")
            )
            if key is None:
                continue
            new = bool(result.get("new")) if operation != "update" else False
            outcomes[key] = Outcome(key, "insert" if new else "update", destination_id=str(result["id"]))
        for error in body.get("errors", []):
            message = f"{error.get('category', 'ERROR')}: {error.get('message', '')}"[:500]
            retryable = error.get("category") in _RETRYABLE_CATEGORIES
            for ident in (error.get("context") or {}).get("ids", []):
                key = by_id.get(ident, str(ident).lower())
                if key not in outcomes:
                    outcomes[key] = Outcome(key, _op(operation), message, retryable)
        return [
            outcomes.get(c.record_key)
            or Outcome(c.record_key, _op(operation), "HubSpot did not confirm this record", retryable=True)
            for c in changes
        ]


def sync_hubspot(
    frame: pd.DataFrame,
    client: HubSpotClient,
    con: duckdb.DuckDBPyConnection,
    policy: SyncPolicy | None = None,
    *,
    object_type: str = "contacts",
    key_column: str = "email",
    id_property: str = "email",
    fields: dict[str, str] | None = None,
    run_id: str | None = None,
) -> SyncResult:
    """Sync a DataFrame into HubSpot objects through the sync engine.

    Args:
        frame: One row per record: ``key_column`` plus the input columns of ``fields``.
        client: The HubSpot client.
        con: Open warehouse connection for ``sync.*``.
        policy: Mode and safety settings (default: upsert, null protection, breaker at 50 %).
        object_type: ``contacts`` or ``companies``.
        key_column: Input column holding the id property's value (e-mail for contacts).
        id_property: Unique HubSpot property the upserts match on.
        fields: Input column -> HubSpot property; default ``CONTACT_FIELDS``.
        run_id: Identifier for state and log rows.

    Returns:
        The run's counts (the plan, in a dry run).
    """
    policy = policy or SyncPolicy()
    records = build_records(
        frame, key_column=key_column, fields=fields or CONTACT_FIELDS, lowercase_keys=id_property == "email"
    )
    destination = HubSpotDestination(
        client, object_type=object_type, id_property=id_property, overwrite_nulls=policy.overwrite_nulls
    )
    return run_sync(records, destination, con, policy, run_id=run_id)


def _op(operation: str) -> str:
    # A refused upsert neither inserted nor updated: the log says what was attempted.
    return "insert" if operation == "create" else operation


def _error_text(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        body = {}
    return f"{response.status_code} {body.get('category', '')}: {body.get('message', '')}"[:500]
