{#- Trim a text column; blank strings become NULL so "no value" has one representation. -#}
{% macro clean_text(column) -%}
    nullif(trim(cast({{ column }} as varchar)), '')
{%- endmacro %}

{#- Emails are compared lower-cased and trimmed everywhere downstream. -#}
{% macro clean_email(column) -%}
    nullif(lower(trim(cast({{ column }} as varchar))), '')
{%- endmacro %}

{#- A Jinja list of strings as a SQL list literal: ['a', 'b'] -> ('a', 'b'). -#}
{% macro sql_string_list(values) -%}
    ({%- for value in values -%}
        '{{ value | replace("'", "''") }}'{{ ", " if not loop.last }}
    {%- endfor -%})
{%- endmacro %}
