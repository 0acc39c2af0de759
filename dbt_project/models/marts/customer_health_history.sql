{#- Daily snapshot of customer_health: each run adds (or, on a rerun for the same day, replaces) the
    rows for its as-of date and keeps every earlier day, so trends and drop alerts have a history. -#}

{{ config(
    materialized='incremental',
    unique_key=['customer_id', 'as_of_date'],
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
) }}

select
    customer_id,
    as_of_date,
    health_score,
    health_tier,
    {%- for component in health_components() %}
    {{ component }}_contribution,
    {%- endfor %}
    top_driver_1,
    top_driver_2,
    top_driver_3,
    health_top_reason
from {{ ref('customer_health') }}
