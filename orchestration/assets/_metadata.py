"""Metadata attached to materializations: row counts and a preview with personal data masked."""

import re

import dagster as dg
import duckdb
import pandas as pd

from connectors import warehouse

# Column names that hold personal data; their values never leave the warehouse in metadata.
_PII = re.compile(
    r"(email|phone|first_?name|last_?name|full_?name|_name$|^name$|caller|context_ip|ip_address|user_agent|comment|notes|subject)"
)
_NOT_PII = {"campaign_name", "event_name", "page_name", "survey_name", "ad_name", "company_name"}


def is_pii_column(column: str) -> bool:
    """Tell whether a column's values are personal data to be masked in metadata and logs.

    Args:
        column: Column name.

    Returns:
        True for names, emails, phones, IPs, free text and the like.
    """
    return column not in _NOT_PII and bool(_PII.search(column))


def table_metadata(
    frame: pd.DataFrame, preview_rows: int = 5, row_count: int | None = None
) -> dict[str, dg.MetadataValue]:
    """Row count, column schema and a masked preview of a table.

    Args:
        frame: The table's rows, or only its first rows when ``row_count`` is given.
        preview_rows: How many rows to show.
        row_count: The table's size when ``frame`` holds only a sample of it.

    Returns:
        Metadata for a materialization.
    """
    preview = frame.head(preview_rows).copy()
    for column in preview.columns:
        if is_pii_column(column):
            preview[column] = preview[column].map(lambda v: None if pd.isna(v) else "***")
    schema = dg.TableSchema(
        columns=[dg.TableColumn(name=str(c), type=str(t)) for c, t in frame.dtypes.items()]
    )
    return {
        "dagster/row_count": dg.MetadataValue.int(len(frame) if row_count is None else row_count),
        "dagster/column_schema": dg.MetadataValue.table_schema(schema),
        "preview": dg.MetadataValue.md(preview.to_markdown(index=False) if len(preview) else "(empty)"),
    }


def stored_table_metadata(
    con: duckdb.DuckDBPyConnection, schema: str, table: str
) -> dict[str, dg.MetadataValue]:
    """``table_metadata`` of a warehouse table, counted and previewed in SQL instead of read whole.

    Args:
        con: Open warehouse connection.
        schema: Schema name.
        table: Table name.

    Returns:
        Metadata for a materialization.
    """
    name = warehouse.qualified(schema, table)
    total = con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
    return table_metadata(con.execute(f"SELECT * FROM {name} LIMIT 5").df(), row_count=total)
