{#- The working days (Monday-Friday, no holiday calendar) after the day of `since` up to and including
    the as-of date, as a DuckDB list of timestamps: len() counts them, [n] is the n-th. -#}
{% macro working_days_since(since) -%}
    list_filter(
        generate_series(cast({{ since }} as date) + interval 1 day, {{ as_of_date() }}, interval 1 day),
        lambda day: isodow(day) < 6
    )
{%- endmacro %}
