"""What an audience definition may refer to: the allowed fields, operators and consent purposes.

Fields are columns of ``marts.audience_traits`` (one row per customer) and of ``marts.fct_touchpoints``
(events); nothing outside these lists ever reaches SQL.
"""

# Trait field -> kind; the kind decides which operators and values are allowed.
TRAIT_FIELDS: dict[str, str] = {
    "company_name": "text",
    "title": "text",
    "country_code": "text",
    "health_score": "number",
    "health_tier": "text",
    "journey_stage": "text",
    "latest_nps_score": "number",
    "days_until_renewal": "number",
    "next_renewal_date": "date",
}

# Event filters: touchpoint columns an event condition may match exactly.
EVENT_FIELDS: tuple[str, ...] = ("event_type", "channel", "target_id")

# Operator -> SQL template over the quoted column; "?" placeholders take bound values.
OPERATORS: dict[str, str] = {
    "eq": "{col} = ?",
    "ne": "{col} <> ?",
    "gt": "{col} > ?",
    "gte": "{col} >= ?",
    "lt": "{col} < ?",
    "lte": "{col} <= ?",
    "in": "{col} IN (SELECT unnest(?))",
    "not_in": "{col} NOT IN (SELECT unnest(?))",
    "is_null": "{col} IS NULL",
    "not_null": "{col} IS NOT NULL",
}
ORDERED_OPERATORS = frozenset({"gt", "gte", "lt", "lte"})
LIST_OPERATORS = frozenset({"in", "not_in"})
NO_VALUE_OPERATORS = frozenset({"is_null", "not_null"})

# Consent purpose -> the audience_traits flag that must be true for every member.
PURPOSES: dict[str, str] = {
    "email_marketing": "has_email_marketing_consent",
    "advertising": "has_advertising_consent",
}
