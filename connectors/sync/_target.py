"""Configuration, result and error types of the SQL-CRM reverse sync."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError

SYNC_FIELDS: tuple[str, ...] = (
    "customer_id",
    "health_score",
    "health_tier",
    "health_top_reason",
    "synced_at",
)
"""CDP fields the sync can write; ``synced_at`` is set by the sync, the others come from the input."""

INPUT_KEY = "contact_id"
"""Column of the input DataFrame holding the CRM contact key."""

DEFAULT_SIDE_TABLE = "cdp_contact_fields"
DEFAULT_CONTACTS_TABLE = "contacts"

SIDE_TABLE_COLUMNS: Mapping[str, str] = {name: name for name in SYNC_FIELDS}
"""Default mapping in ``side_table`` mode: the table is ours, so columns carry the field names."""

CONTACT_COLUMNS: Mapping[str, str] = {name: f"cdp_{name}" for name in SYNC_FIELDS}
"""Default mapping in ``columns`` mode: a ``cdp_`` prefix keeps CDP fields apart from the CRM's own."""

_DIALECTS = ("sqlite", "postgresql", "mysql", "mariadb")


class SyncError(RuntimeError):
    """The sync cannot run; the message says why and never contains the CRM password."""


class SyncConfigError(SyncError):
    """The target or the input does not fit the CRM database; the message says what to change."""


@dataclass(frozen=True)
class SqlCrmTarget:
    """Where and how CDP fields are written into a SQL CRM database.

    Attributes:
        url: SQLAlchemy URL of the CRM database (sqlite, postgresql, mysql or mariadb). It may hold a
            password, so it is left out of ``repr`` and never appears in messages or results.
        mode: ``side_table`` upserts into a table of our own keyed by the contact key, created when
            missing; ``columns`` updates existing columns of an existing CRM table and never inserts
            rows, creates tables or alters them.
        table: Target table, optionally schema-qualified (``crm.cdp_contact_fields``). Defaults to
            ``cdp_contact_fields`` in ``side_table`` mode and ``contacts`` in ``columns`` mode.
        key_column: The CRM column holding the contact key.
        field_map: CDP field name -> CRM column name. Only the fields it names are written. Defaults
            to ``SIDE_TABLE_COLUMNS`` or ``CONTACT_COLUMNS`` depending on ``mode``.
        overwrite_nulls: When False (the default) a missing value never replaces a CRM value.
        batch_size: Rows per write statement and transaction.
        object_type: The kind of record synced, part of the sync-state key.
        name: Destination name for state and logs; set it when two CRM databases share dialect and
            table name. Defaults to ``sql_crm:<dialect>:<table>``.
    """

    url: str | sa.URL = field(repr=False)
    mode: Literal["side_table", "columns"] = "side_table"
    table: str | None = None
    key_column: str = "contact_id"
    field_map: Mapping[str, str] | None = None
    overwrite_nulls: bool = False
    batch_size: int = 1000
    object_type: str = "contact"
    name: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("side_table", "columns"):
            raise SyncConfigError(f"SqlCrmTarget.mode is '{self.mode}'; use 'side_table' or 'columns'")
        if self.batch_size < 1:
            raise SyncConfigError(f"SqlCrmTarget.batch_size is {self.batch_size}; use a positive number")
        if self.dialect not in _DIALECTS:
            raise SyncConfigError(
                f"CRM dialect '{self.dialect}' is not supported; use one of {', '.join(_DIALECTS)}"
            )
        schema, table = self.schema_and_table
        if not table or (schema is not None and not schema):
            raise SyncConfigError(f"SqlCrmTarget.table '{self.table_name}' is not a [schema.]table name")
        unknown = sorted(set(self.columns) - set(SYNC_FIELDS))
        if unknown:
            raise SyncConfigError(
                f"SqlCrmTarget.field_map names unknown field(s) {', '.join(unknown)}; "
                f"the sync writes {', '.join(SYNC_FIELDS)}"
            )
        if not set(self.columns) - {"synced_at"}:
            raise SyncConfigError("SqlCrmTarget.field_map maps no data field; map at least one")
        targets = list(self.columns.values())
        if len(set(targets)) != len(targets) or self.key_column in targets:
            raise SyncConfigError(
                "SqlCrmTarget.field_map sends two fields to the same column or one to the key column; "
                "give every field its own column"
            )

    @property
    def sa_url(self) -> sa.URL:
        """The URL parsed; raises SyncConfigError (without echoing it) when it cannot be parsed."""
        try:
            return sa.make_url(self.url)
        except ArgumentError:
            raise SyncConfigError("SqlCrmTarget.url is not a valid SQLAlchemy URL") from None

    @property
    def dialect(self) -> str:
        """The database backend: ``sqlite``, ``postgresql``, ``mysql`` or ``mariadb``."""
        return self.sa_url.get_backend_name()

    @property
    def safe_url(self) -> str:
        """The URL with its password masked, safe for messages."""
        return self.sa_url.render_as_string(hide_password=True)

    @property
    def table_name(self) -> str:
        """The target table as configured, with its schema if one was given."""
        if self.table:
            return self.table
        return DEFAULT_SIDE_TABLE if self.mode == "side_table" else DEFAULT_CONTACTS_TABLE

    @property
    def schema_and_table(self) -> tuple[str | None, str]:
        """The schema (None for the connection's default) and the bare table name."""
        schema, _, table = self.table_name.rpartition(".")
        return (schema if "." in self.table_name else None), table

    @property
    def columns(self) -> Mapping[str, str]:
        """CDP field -> CRM column, defaults applied."""
        if self.field_map is not None:
            return dict(self.field_map)
        return dict(SIDE_TABLE_COLUMNS if self.mode == "side_table" else CONTACT_COLUMNS)

    @property
    def destination(self) -> str:
        """Name of this destination in sync state and logs; never contains the URL."""
        return self.name or f"sql_crm:{self.dialect}:{self.table_name}"


@dataclass(frozen=True)
class SyncResult:
    """What one sync run did (or, in a dry run, would do).

    Attributes:
        run_id: Identifier of the run, also in ``sync.sync_state`` and ``sync.sync_log``.
        destination: The destination name, e.g. ``sql_crm:postgresql:cdp_contact_fields``.
        considered: Input rows.
        unchanged: Rows skipped because the CRM already holds what would be sent.
        inserted: Rows inserted into the CRM.
        updated: Rows updated in the CRM.
        failed: Rows not written (invalid input, unknown contact, destination error); see
            ``sync.dead_letters``.
        duration_s: Wall-clock seconds.
        dry_run: True when nothing was written to the CRM or the sync state.
        errors: Up to five distinct error messages, for the run's summary.
        deleted: Records deleted (tracked mirror mode: only records this tool created).
        skipped: Records left alone on purpose (create-only and existing; refused before with the
            same values; sharing their destination key with another record).
        retryable_failed: Of ``failed``, those failing transiently; retried on the next run.
        aborted: Why the run stopped early (destination unavailable), or None.
        plan: Dry run only: ``create``, ``update``, ``delete``, ``skip``, ``invalid`` counts and
            ``fields`` (destination field -> records whose value would change).
        conflicts: Of ``skipped``, the records not sent because another input record maps to the
            same destination record (a ``skip_conflict`` dead letter per key); never a failure.
        new_failures: Of ``failed``, those whose record had no open dead letter with the same
            message before this run: what a run's exit status should report.
    """

    run_id: str
    destination: str
    considered: int
    unchanged: int
    inserted: int
    updated: int
    failed: int
    duration_s: float
    dry_run: bool = False
    errors: tuple[str, ...] = ()
    deleted: int = 0
    skipped: int = 0
    retryable_failed: int = 0
    aborted: str | None = None
    plan: dict | None = None
    conflicts: int = 0
    new_failures: int = 0

    @property
    def written(self) -> int:
        """Rows inserted or updated."""
        return self.inserted + self.updated
