"""Audience definition -> one parameterised SQL query. Column names come only from the schema
whitelist; every value from a definition is a bound parameter."""

from dataclasses import dataclass

from connectors.audiences._definition import Audience, Condition
from connectors.audiences._schema import NO_VALUE_OPERATORS, OPERATORS, PURPOSES

TRAITS = "marts.audience_traits"
TOUCHPOINTS = "marts.fct_touchpoints"
_AS_OF = f"(SELECT max(as_of_date) FROM {TRAITS})"


@dataclass(frozen=True)
class CompiledAudience:
    """SQL selecting the members (customer_id, email, phone, country_code) and its parameters."""

    sql: str
    params: list


def _condition(condition: Condition, params: list) -> str:
    if condition.op not in NO_VALUE_OPERATORS:
        params.append(condition.value)
    return OPERATORS[condition.op].format(col=f't."{condition.field}"')


def compile_audience(audience: Audience) -> CompiledAudience:
    """Compile a validated audience to SQL over marts.audience_traits and marts.fct_touchpoints.

    Consent for the audience's purpose and global suppression (unsubscribed or bounced address, no
    address) are always part of the query, whatever the definition says.

    Args:
        audience: A definition from ``load_audience``.

    Returns:
        The query and its bound parameters, in order.
    """
    params: list = []
    where = [f't."{PURPOSES[audience.purpose]}"', "NOT t.is_email_suppressed", "t.email IS NOT NULL"]
    where += [f"coalesce({_condition(c, params)}, false)" for c in audience.conditions]
    for event in audience.events:
        matches = []
        for column, value in event.match.items():
            matches.append(f'"{column}" = ?')
            params.append(value)
        params += [event.within_days, event.min_count]
        where.append(
            f"t.customer_id IN (SELECT customer_id FROM {TOUCHPOINTS} WHERE customer_id IS NOT NULL AND "
            + " AND ".join(matches)
            + f" AND occurred_at >= {_AS_OF} - to_days(CAST(? AS INTEGER))"
            + f" AND occurred_at < {_AS_OF} + INTERVAL 1 DAY GROUP BY customer_id HAVING count(*) >= ?)"
        )
    for condition in audience.exclude:
        where.append(f"NOT coalesce({_condition(condition, params)}, false)")
    sql = (
        f"SELECT t.customer_id, t.email, t.phone, t.country_code, t.as_of_date FROM {TRAITS} AS t WHERE "
        + " AND ".join(where)
        + " ORDER BY t.customer_id"
    )
    return CompiledAudience(sql=sql, params=params)
