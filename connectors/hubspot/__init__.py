"""HubSpot CRM v3: a rate-limited, retrying client, a sync destination and a source reader."""

from connectors.hubspot._client import DEFAULT_BASE_URL, HubSpotClient, HubSpotError
from connectors.hubspot._destination import (
    CONTACT_FIELDS,
    HEALTH_PROPERTIES,
    PROPERTY_GROUP,
    HubSpotDestination,
    sync_hubspot,
)
from connectors.hubspot._lists import ListSyncResult, sync_list
from connectors.hubspot._source import SOURCE_PROPERTIES, empty_objects, read_objects

__all__ = [
    "CONTACT_FIELDS",
    "DEFAULT_BASE_URL",
    "HEALTH_PROPERTIES",
    "PROPERTY_GROUP",
    "SOURCE_PROPERTIES",
    "HubSpotClient",
    "HubSpotDestination",
    "HubSpotError",
    "ListSyncResult",
    "empty_objects",
    "read_objects",
    "sync_hubspot",
    "sync_list",
]
