"""The SQL CRM source: any database SQLAlchemy can reach (SQLite, PostgreSQL, MySQL/MariaDB, ...).

Tables are read incrementally: rows whose ``updated_at`` is at or after the newest one already in
the warehouse. Re-reading the boundary second is deliberate; the warehouse upserts by key, so no
row that changed within that second is missed and none is duplicated.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import NoSuchTableError, OperationalError


@dataclass(frozen=True)
class CrmTable:
    """A CRM table the pipeline reads.

    Attributes:
        name: Table name in the CRM database.
        key: Its primary-key column.
        description: The grain, for the asset description.
        optional_columns: For a table a CRM may not have, its columns and pandas dtypes: a missing
            table is then read as empty (the marts fall back to what other tables say) instead of
            stopping the run. None: the table is required.
    """

    name: str
    key: str
    description: str
    optional_columns: tuple[tuple[str, str], ...] | None = None


CRM_TABLES: tuple[CrmTable, ...] = (
    CrmTable("users", "user_id", "One row per CRM user (account owner, success manager, agent)."),
    CrmTable("accounts", "account_id", "One row per CRM account (company)."),
    CrmTable("contacts", "contact_id", "One row per CRM contact record (may include CRM duplicates)."),
    CrmTable("opportunities", "opportunity_id", "One row per CRM opportunity (deal)."),
    CrmTable("activities", "activity_id", "One row per logged CRM activity (call, meeting, note, email)."),
    CrmTable(
        "contact_history",
        "history_id",
        "One row per change of a tracked CRM contact field (lifecycle stage, title), oldest first.",
        optional_columns=(
            ("history_id", "int64"),
            ("contact_id", "int64"),
            ("field", "string"),
            ("old_value", "string"),
            ("new_value", "string"),
            ("changed_at", "datetime64[us]"),
        ),
    ),
)


class CrmSourceError(RuntimeError):
    """The CRM cannot be read as configured; the message says what to change."""


def safe_url(url: str) -> str:
    """Render a SQLAlchemy URL with its password masked, for messages and metadata.

    Args:
        url: A SQLAlchemy URL, possibly with credentials.

    Returns:
        The URL with the password replaced by ``***``.
    """
    return sa.make_url(url).render_as_string(hide_password=True)


def read_crm_table(
    url: str, table: CrmTable, since: datetime | None = None, schema: str | None = None
) -> pd.DataFrame:
    """Read a CRM table, only rows updated at or after ``since`` when the table has ``updated_at``.

    Args:
        url: SQLAlchemy URL of the CRM database.
        table: Which table.
        since: The incremental cursor (newest ``updated_at`` already loaded), or None for all rows.
        schema: Database schema holding the CRM tables, if not the default one.

    Returns:
        The rows, with ``*_at`` columns as timestamps and ``*_date`` columns as dates. An optional
        table the CRM lacks comes back empty, with ``attrs["missing_in_crm"]`` set.

    Raises:
        CrmSourceError: The CRM cannot be reached, or a required table or its key column is missing.
    """
    engine = sa.create_engine(url)
    try:
        try:
            reflected = sa.Table(table.name, sa.MetaData(), autoload_with=engine, schema=schema)
        except OperationalError as exc:
            raise CrmSourceError(
                f"cannot read the CRM at {safe_url(url)}: {exc.orig}; check CDP_CRM_URL and that the server is up"
            ) from None
        except NoSuchTableError:
            if table.optional_columns is not None:
                empty = pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in table.optional_columns})
                empty.attrs["missing_in_crm"] = True
                return empty
            where = f"schema '{schema}'" if schema else "the default schema"
            raise CrmSourceError(
                f"CRM table '{table.name}' not found in {where} of {safe_url(url)}; create it (or a view "
                f"with that name and the documented columns) or set CDP_CRM_SCHEMA"
            ) from None
        if table.key not in reflected.c:
            raise CrmSourceError(
                f"CRM table '{table.name}' has no key column '{table.key}'; expose it under that name"
            )
        statement = sa.select(reflected).order_by(reflected.c[table.key])
        if since is not None and "updated_at" in reflected.c:
            # One second back: SQLite compares stored text to the bound value, whose fraction
            # would otherwise exclude rows updated within the cursor's own second.
            statement = statement.where(reflected.c.updated_at >= since - timedelta(seconds=1))
        with engine.connect() as conn:
            frame = pd.read_sql(statement, conn)
    finally:
        engine.dispose()
    return _typed(frame)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for column in frame.columns:
        if column.endswith("_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="mixed").dt.tz_localize(None)
            frame[column] = frame[column].astype("datetime64[us]")
        elif column.endswith("_date"):
            frame[column] = pd.to_datetime(frame[column], format="mixed").dt.date
    return frame
