"""Reverse sync: write CDP-computed fields back into the CRM.

``sync_sql_crm`` writes ``customer_id``, ``health_score``, ``health_tier``, ``health_top_reason``
and ``synced_at`` for each CRM contact into a SQL CRM database (SQLite, PostgreSQL, MySQL/MariaDB),
either into a side table of our own or into existing columns of the CRM's contacts table. It is
diff-based: ``sync.sync_state`` in the DuckDB warehouse remembers what was last written, so an
unchanged record is never sent twice.
"""

from connectors.sync._sql_crm import sync_sql_crm
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
    "CONTACT_COLUMNS",
    "SIDE_TABLE_COLUMNS",
    "SYNC_FIELDS",
    "SqlCrmTarget",
    "SyncConfigError",
    "SyncError",
    "SyncResult",
    "sync_sql_crm",
]
