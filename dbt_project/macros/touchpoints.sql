{#- The select list of one source of fct_touchpoints: every source unions into the same columns, so
    they are named, ordered and typed here once. `columns` maps column name -> SQL expression; the
    optional columns a source lacks become typed nulls. A missing required column or an unknown name
    fails compilation, naming it. -#}
{% macro touchpoint_columns(columns) -%}
    {%- set spec = [
        ('touchpoint_id', 'varchar', true),
        ('customer_id', 'varchar', true),
        ('anonymous_id', 'varchar', false),
        ('occurred_at', 'timestamp', true),
        ('channel', 'varchar', true),
        ('event_type', 'varchar', true),
        ('source_system', 'varchar', true),
        ('target_id', 'varchar', false),
        ('duration_sec', 'integer', false),
        ('owner_team', 'varchar', true),
        ('utm_source', 'varchar', false),
        ('utm_medium', 'varchar', false),
        ('utm_campaign', 'varchar', false),
        ('utm_term', 'varchar', false),
        ('utm_content', 'varchar', false),
        ('user_agent', 'varchar', false),
        ('device_type', 'varchar', false),
        ('ip_address', 'varchar', false),
        ('locale', 'varchar', false),
        ('is_engagement', 'boolean', true),
    ] -%}
    {%- set known = spec | map(attribute=0) | list -%}
    {%- for name in columns if name not in known -%}
        {{ exceptions.raise_compiler_error(
            "touchpoint_columns: unknown column '" ~ name ~ "'; the touchpoint columns are " ~ known | join(', ')
        ) }}
    {%- endfor -%}
    {%- for name, type, required in spec -%}
        {%- if required and name not in columns -%}
            {{ exceptions.raise_compiler_error("touchpoint_columns: required column '" ~ name ~ "' is missing") }}
        {%- endif %}
        cast({{ columns.get(name, 'null') }} as {{ type }}) as {{ name }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}
