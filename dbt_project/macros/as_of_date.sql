{#- The date the marts are computed as of, as a SQL DATE expression.

    Reads var `as_of_date` (default: env CDP_AS_OF_DATE). Empty means current_date, so scheduled
    runs need no configuration while tests and sample-data runs are reproducible. -#}
{% macro as_of_date() -%}
    {%- set value = (var('as_of_date', '') or '') | string | trim -%}
    {%- if value == '' -%}
        current_date
    {%- elif modules.re.match('^\d{4}-\d{2}-\d{2}$', value) -%}
        cast('{{ value }}' as date)
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "var 'as_of_date' (env CDP_AS_OF_DATE) is '" ~ value ~ "'; use YYYY-MM-DD or leave it empty for today"
        ) }}
    {%- endif -%}
{%- endmacro %}

{#- Exclusive upper bound for timestamps on or before the as-of date (the whole day counts). -#}
{% macro as_of_end() -%}
    ({{ as_of_date() }} + interval 1 day)
{%- endmacro %}
