"""Schema of the sample CRM database (SQLAlchemy Core), portable across SQLite, PostgreSQL and MySQL.

On SQLite, timestamps are stored as text ``YYYY-MM-DD HH:MM:SS`` (no fractional seconds) and dates
as ``YYYY-MM-DD``.
"""

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

_SQLITE_DATETIME = sqlite.DATETIME(
    storage_format="%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d",
    regexp=r"(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)",
)
Timestamp = sa.DateTime().with_variant(_SQLITE_DATETIME, "sqlite")

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("full_name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("team", sa.String(20), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("account_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("domain", sa.String(255)),
    sa.Column("industry", sa.String(100)),
    sa.Column("region", sa.String(10)),
    sa.Column("country", sa.String(2)),
    sa.Column("owner_user_id", sa.Integer, sa.ForeignKey("users.user_id")),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("contact_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("first_name", sa.String(200)),
    sa.Column("last_name", sa.String(200)),
    sa.Column("email", sa.String(320)),
    sa.Column("phone", sa.String(50)),
    sa.Column("title", sa.String(200)),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.account_id")),
    sa.Column("region", sa.String(10)),
    sa.Column("owner_user_id", sa.Integer, sa.ForeignKey("users.user_id")),
    sa.Column("lifecycle_stage", sa.String(20), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

opportunities = sa.Table(
    "opportunities",
    metadata,
    sa.Column("opportunity_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.account_id"), nullable=False),
    sa.Column("primary_contact_id", sa.Integer, sa.ForeignKey("contacts.contact_id")),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("stage", sa.String(30), nullable=False),
    sa.Column("amount", sa.Numeric(14, 2, asdecimal=False), nullable=False),
    sa.Column("stage_entered_at", Timestamp, nullable=False),
    sa.Column("close_date", sa.Date, nullable=False),
    sa.Column("contract_renewal_date", sa.Date),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

activities = sa.Table(
    "activities",
    metadata,
    sa.Column("activity_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.contact_id")),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.account_id")),
    sa.Column("owner_user_id", sa.Integer, sa.ForeignKey("users.user_id")),
    sa.Column("activity_type", sa.String(20), nullable=False),
    sa.Column("subject", sa.String(300)),
    sa.Column("occurred_at", Timestamp, nullable=False),
    sa.Column("duration_sec", sa.Integer),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

contact_history = sa.Table(
    "contact_history",
    metadata,
    sa.Column("history_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.contact_id"), nullable=False),
    sa.Column("field", sa.String(50), nullable=False),
    sa.Column("old_value", sa.String(300)),
    sa.Column("new_value", sa.String(300)),
    sa.Column("changed_at", Timestamp, nullable=False),
)
