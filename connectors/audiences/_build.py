"""Materialise audiences in the warehouse and keep their membership history."""

import duckdb
import pandas as pd
import phonenumbers

from connectors import warehouse
from connectors.audiences._compile import compile_audience
from connectors.audiences._definition import Audience

SCHEMA = "audiences"
HISTORY_TABLE = "audience_membership_history"


def phone_e164(phone: str | None, country_code: str | None) -> str | None:
    """E.164 form of a phone number, reading national numbers in the customer's country.

    Args:
        phone: The number as written.
        country_code: ISO country of the customer, or None.

    Returns:
        ``+<digits>``, or None when the number is missing or not valid.
    """
    if not isinstance(phone, str) or not phone.strip():
        return None
    region = country_code if isinstance(country_code, str) and country_code else "US"
    try:
        parsed = phonenumbers.parse(phone, region.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def members(con: duckdb.DuckDBPyConnection, audience: Audience) -> pd.DataFrame:
    """Current members of an audience.

    Args:
        con: Warehouse connection holding marts.audience_traits and marts.fct_touchpoints.
        audience: The definition.

    Returns:
        One row per member: customer_id, email, phone_e164, audience, purpose, priority, as_of_date.
    """
    compiled = compile_audience(audience)
    frame = con.execute(compiled.sql, compiled.params).df()
    frame["phone_e164"] = [
        phone_e164(p, c) for p, c in zip(frame["phone"], frame["country_code"], strict=True)
    ]
    frame["audience"] = audience.name
    frame["purpose"] = audience.purpose
    frame["priority"] = audience.priority
    return frame[["customer_id", "email", "phone_e164", "audience", "purpose", "priority", "as_of_date"]]


def _update_history(con: duckdb.DuckDBPyConnection, audience: str, frame: pd.DataFrame, as_of) -> None:
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{HISTORY_TABLE} "
        "(audience VARCHAR, customer_id VARCHAR, entered_at DATE, exited_at DATE)"
    )
    current = pd.DataFrame({"customer_id": frame["customer_id"].astype("string")})
    con.register("_current_members", current)
    try:
        con.execute(
            f"UPDATE {SCHEMA}.{HISTORY_TABLE} SET exited_at = ? WHERE audience = ? AND exited_at IS NULL "
            "AND customer_id NOT IN (SELECT customer_id FROM _current_members)",
            [as_of, audience],
        )
        con.execute(
            f"INSERT INTO {SCHEMA}.{HISTORY_TABLE} SELECT ?, customer_id, ?, NULL FROM _current_members "
            f"WHERE customer_id NOT IN (SELECT customer_id FROM {SCHEMA}.{HISTORY_TABLE} "
            "WHERE audience = ? AND exited_at IS NULL)",
            [audience, as_of, audience],
        )
    finally:
        con.unregister("_current_members")


def build_audiences(con: duckdb.DuckDBPyConnection, audiences: list[Audience]) -> dict[str, pd.DataFrame]:
    """Write ``audiences.<name>`` for every audience and record entries and exits in the history.

    A rerun on the same as-of date changes nothing in the history; a member who leaves gets
    ``exited_at`` = the as-of date, and re-entering opens a new row.

    Args:
        con: Warehouse connection (the single writer).
        audiences: Definitions to build.

    Returns:
        Audience name -> its members as written.
    """
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    (as_of,) = con.execute("SELECT max(as_of_date) FROM marts.audience_traits").fetchall()[0]
    built = {}
    for audience in audiences:
        frame = members(con, audience)
        warehouse.replace_table(con, SCHEMA, audience.name, frame)
        _update_history(con, audience.name, frame, as_of)
        built[audience.name] = frame
    return built


def members_on(con: duckdb.DuckDBPyConnection, audience: str, day) -> list[str]:
    """Who was in an audience on a given day, from the membership history.

    Args:
        con: Warehouse connection.
        audience: Audience name.
        day: The date asked about.

    Returns:
        Customer ids, sorted.
    """
    rows = con.execute(
        f"SELECT customer_id FROM {SCHEMA}.{HISTORY_TABLE} WHERE audience = ? AND entered_at <= ? "
        "AND (exited_at IS NULL OR exited_at > ?) ORDER BY customer_id",
        [audience, day, day],
    ).fetchall()
    return [r[0] for r in rows]
