"""HubSpot contacts and companies as a source of raw records (``raw_hubspot.*``)."""

from collections.abc import Sequence

import pandas as pd

from connectors.hubspot._client import HubSpotClient

SOURCE_PROPERTIES: dict[str, tuple[str, ...]] = {
    "contacts": ("email", "firstname", "lastname", "phone", "company", "jobtitle", "lifecyclestage"),
    "companies": ("name", "domain", "industry", "numberofemployees"),
}
"""Properties read per object type; each becomes a text column of ``raw_hubspot.<type>``."""

_SYSTEM_COLUMNS = ("hubspot_id", "created_at", "updated_at")


def _columns(properties: Sequence[str]) -> list[str]:
    return [*_SYSTEM_COLUMNS, *properties]


def read_objects(client: HubSpotClient, object_type: str, properties: Sequence[str]) -> pd.DataFrame:
    """Read every object of a type into a DataFrame (HubSpot as a source).

    Pages through ``GET /crm/v3/objects/{type}`` 100 at a time with the ``paging.next.after``
    cursor; archived objects are not returned.

    Args:
        client: The HubSpot client.
        object_type: ``contacts`` or ``companies``.
        properties: Property names to read; each becomes a column.

    Returns:
        One row per object: ``hubspot_id``, ``created_at``, ``updated_at``, then one column per
        property; all text (HubSpot's ISO timestamps included).
    """
    rows = [
        {
            "hubspot_id": item["id"],
            "created_at": item.get("createdAt"),
            "updated_at": item.get("updatedAt"),
            **{p: (item.get("properties") or {}).get(p) for p in properties},
        }
        for item in client.iter_objects(object_type, properties)
    ]
    return pd.DataFrame(rows, columns=_columns(properties)).astype("string")


def empty_objects(properties: Sequence[str]) -> pd.DataFrame:
    """Return a raw HubSpot table with no rows and the columns ``read_objects`` gives.

    Args:
        properties: Property names that would be read.

    Returns:
        An empty frame of text columns, so downstream models compile when HubSpot is not configured.
    """
    return pd.DataFrame(columns=_columns(properties)).astype("string")
