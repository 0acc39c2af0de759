{#- Custom schemas are used as-is (staging, intermediate, marts) so every table lives where the
    data contract and the Dagster asset keys say it does, not in "<target>_<custom>". -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
