"""Audience membership as HubSpot manual lists: add and remove only the difference."""

from dataclasses import dataclass

import pandas as pd

from connectors.hubspot._client import MAX_BATCH, HubSpotClient
from connectors.sync import SyncConfigError

CONTACT_OBJECT_TYPE_ID = "0-1"


@dataclass(frozen=True)
class ListSyncResult:
    """What one list sync did.

    Attributes:
        list_name: The HubSpot list name.
        list_id: Its HubSpot id.
        members: Audience members given.
        matched: Members found as HubSpot contacts by e-mail.
        added: Contacts added to the list.
        removed: Contacts removed from the list.
        unmatched: Members with no HubSpot contact (left out; counted, never logged by address).
        dry_run: True when ``added`` and ``removed`` are the plan and nothing was sent.
    """

    list_name: str
    list_id: str
    members: int
    matched: int
    added: int
    removed: int
    unmatched: int
    dry_run: bool = False


def sync_list(
    client: HubSpotClient, list_name: str, members: pd.DataFrame, *, dry_run: bool = False
) -> ListSyncResult:
    """Make a manual HubSpot contact list hold exactly the audience's contacts.

    Args:
        client: The HubSpot client.
        list_name: The list's name (created as a MANUAL contact list when missing).
        members: One row per audience member with an ``email`` column (e.g. ``audiences.<name>``).
        dry_run: Only read: count what would be added and removed; create no list, change no membership.

    Returns:
        The counts; only the difference with the list's current membership is sent. A dry run
        against a list that does not exist yet reports an empty ``list_id``.

    Raises:
        SyncConfigError: ``members`` has no ``email`` column.
    """
    if "email" not in members.columns:
        raise SyncConfigError(
            f"audience for list '{list_name}' has no email column; HubSpot lists match contacts by email"
        )
    emails = sorted({str(e).strip().lower() for e in members["email"].dropna() if str(e).strip()})
    list_id = _list_id(client, list_name, create=not dry_run)
    wanted: set[str] = set()
    for start in range(0, len(emails), MAX_BATCH):
        body = {
            "idProperty": "email",
            "properties": ["email"],
            "inputs": [{"id": e} for e in emails[start : start + MAX_BATCH]],
        }
        response = client.batch("contacts", "read", body)
        if response.status_code == 404:
            continue
        if response.status_code != 207:
            client.checked(response)
        wanted.update(str(r["id"]) for r in response.json().get("results", []))
    current = (
        {str(r["recordId"]) for r in client.paged(f"/crm/v3/lists/{list_id}/memberships", {})}
        if list_id
        else set()
    )
    to_add, to_remove = sorted(wanted - current, key=int), sorted(current - wanted, key=int)
    if not dry_run:
        for action, ids in (("add", to_add), ("remove", to_remove)):
            for start in range(0, len(ids), MAX_BATCH):
                client.checked(
                    client.request(
                        "PUT",
                        f"/crm/v3/lists/{list_id}/memberships/{action}",
                        json=ids[start : start + MAX_BATCH],
                    )
                )
    return ListSyncResult(
        list_name,
        list_id,
        len(emails),
        len(wanted),
        len(to_add),
        len(to_remove),
        len(emails) - len(wanted),
        dry_run,
    )


def _list_id(client: HubSpotClient, name: str, *, create: bool) -> str:
    """The list's id; a missing list is created, or, when ``create`` is False, reported as ""."""
    response = client.request("GET", f"/crm/v3/lists/object-type-id/{CONTACT_OBJECT_TYPE_ID}/name/{name}")
    if response.status_code == 404:
        if not create:
            return ""
        body = {"name": name, "objectTypeId": CONTACT_OBJECT_TYPE_ID, "processingType": "MANUAL"}
        return str(client.checked(client.request("POST", "/crm/v3/lists", json=body))["list"]["listId"])
    return str(client.checked(response)["list"]["listId"])
