"""Reverse sync: write CDP-computed fields back into CRMs, safely.

``run_sync`` is the destination-independent engine: diff against ``sync.sync_state`` (the checksum
of what each destination last confirmed), modes (upsert, update-only, create-only, tracked mirror),
dry-run plans, a circuit breaker, null protection, CRM-owned fields, per-record errors classified
retryable or permanent into ``sync.dead_letters`` (which also lists, as ``skip_conflict``, the
records not sent because other input records share their destination key), and a row-level
``sync.sync_log``.
``sync_sql_crm`` runs it against a SQL CRM database (SQLite, PostgreSQL, MySQL/MariaDB), either
into a side table of our own or into existing columns of the CRM's contacts table. The HubSpot
destination lives in ``connectors.hubspot``.
"""

from connectors.sync._engine import (
    MODES,
    Change,
    CircuitBreakerOpen,
    Destination,
    DestinationUnavailable,
    Outcome,
    SyncPolicy,
    read_back,
    run_sync,
)
from connectors.sync._records import Record, build_records
from connectors.sync._sql_crm import SqlCrmDestination, sync_sql_crm
from connectors.sync._state import CONFLICT
from connectors.sync._target import (
    CONTACT_COLUMNS,
    SIDE_TABLE_COLUMNS,
    SYNC_FIELDS,
    SqlCrmTarget,
    SyncConfigError,
    SyncError,
    SyncResult,
)

__all__ = [
    "CONFLICT",
    "CONTACT_COLUMNS",
    "MODES",
    "SIDE_TABLE_COLUMNS",
    "SYNC_FIELDS",
    "Change",
    "CircuitBreakerOpen",
    "Destination",
    "DestinationUnavailable",
    "Outcome",
    "Record",
    "SqlCrmDestination",
    "SqlCrmTarget",
    "SyncConfigError",
    "SyncError",
    "SyncPolicy",
    "SyncResult",
    "build_records",
    "read_back",
    "run_sync",
    "sync_sql_crm",
]
