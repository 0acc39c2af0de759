"""The CRM source on real PostgreSQL and MariaDB: typed rows, incremental pulls, clear errors."""

from datetime import datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from connectors.crm import CRM_TABLES, CrmSourceError, read_crm_table

pytestmark = pytest.mark.integration

CONTACTS = next(t for t in CRM_TABLES if t.name == "contacts")


def _contacts_table(metadata: sa.MetaData, schema: str | None = None) -> sa.Table:
    return sa.Table(
        "contacts",
        metadata,
        sa.Column("contact_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("first_name", sa.String(100)),
        sa.Column("email", sa.String(255)),
        sa.Column("created_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime),
        schema=schema,
    )


ROWS = [
    {
        "contact_id": 1,
        "first_name": "Ana",
        "email": "ana@x.com",
        "created_at": datetime(2026, 1, 1, 9),
        "updated_at": datetime(2026, 1, 2, 9),
    },
    {
        "contact_id": 2,
        "first_name": "张伟",
        "email": "wei@x.cn",
        "created_at": datetime(2026, 1, 1, 9),
        "updated_at": datetime(2026, 3, 1, 12, 30),
    },
    {
        "contact_id": 3,
        "first_name": "Bob",
        "email": None,
        "created_at": datetime(2026, 1, 5, 9),
        "updated_at": datetime(2026, 3, 1, 12, 30),
    },
]


def _load(url: sa.URL, schema: str | None = None) -> None:
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    table = _contacts_table(metadata, schema)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), ROWS)
    engine.dispose()


def test_full_then_incremental_read(crm_db):
    _load(crm_db.url)
    url = crm_db.url.render_as_string(hide_password=False)
    everything = read_crm_table(url, CONTACTS)
    assert everything["contact_id"].tolist() == [1, 2, 3]
    assert everything.loc[1, "first_name"] == "张伟"
    assert everything["updated_at"].dtype == "datetime64[us]"
    assert pd.isna(everything.loc[2, "email"])

    since = datetime(2026, 3, 1, 12, 30)
    changed = read_crm_table(url, CONTACTS, since=since)
    assert changed["contact_id"].tolist() == [2, 3]  # the boundary second is re-read, never skipped


def test_schema_qualified_tables(crm_db):
    _load(crm_db.url, schema=crm_db.other_schema)
    rows = read_crm_table(
        crm_db.url.render_as_string(hide_password=False), CONTACTS, schema=crm_db.other_schema
    )
    assert len(rows) == 3


def test_missing_table_is_named(crm_db):
    with pytest.raises(CrmSourceError) as err:
        read_crm_table(crm_db.url.render_as_string(hide_password=False), CONTACTS)
    assert "'contacts' not found" in str(err.value) and "CDP_CRM_SCHEMA" in str(err.value)


def test_wrong_password_is_a_clear_error_that_does_not_show_it(crm_db):
    url = crm_db.url.set(username="cdp_nobody", password="s3cret-pw")
    with pytest.raises(CrmSourceError) as err:
        read_crm_table(url.render_as_string(hide_password=False), CONTACTS)
    assert "cannot read the CRM" in str(err.value) and "CDP_CRM_URL" in str(err.value)
    assert "s3cret-pw" not in str(err.value)


def test_an_optional_table_the_crm_lacks_is_read_as_empty_with_its_columns(crm_db):
    history = next(t for t in CRM_TABLES if t.name == "contact_history")
    rows = read_crm_table(crm_db.url.render_as_string(hide_password=False), history)
    assert rows.empty and rows.attrs["missing_in_crm"]
    assert list(rows.columns) == ["history_id", "contact_id", "field", "old_value", "new_value", "changed_at"]
    assert str(rows["changed_at"].dtype) == "datetime64[us]"
