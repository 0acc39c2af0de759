{#- Health-score settings from vars, validated at compile time so a bad override fails loudly
    instead of producing a silently skewed score. -#}

{% macro health_components() -%}
    {{ return([
        'engagement_recency', 'email_engagement', 'nps', 'support', 'buying_signals', 'account_team_contact',
        'nps_trend', 'renewal_proximity', 'overdue_tickets', 'stalled_opportunities', 'key_contact_change',
        'engagement_frequency'
    ]) }}
{%- endmacro %}

{% macro health_weight(component) -%}
    {%- set weights = var('health_weights') -%}
    {%- set total = namespace(value=0) -%}
    {%- for name in health_components() -%}
        {%- if name not in weights -%}
            {{ exceptions.raise_compiler_error("var 'health_weights' has no weight for component '" ~ name ~ "'") }}
        {%- endif -%}
        {%- set total.value = total.value + (weights[name] | float) -%}
    {%- endfor -%}
    {%- if (total.value - 1.0) | abs > 0.000001 -%}
        {{ exceptions.raise_compiler_error("var 'health_weights' must sum to 1, got " ~ total.value) }}
    {%- endif -%}
    cast({{ weights[component] | float }} as decimal(9, 6))
{%- endmacro %}

{#- Signed contribution text with a true minus sign, e.g. "+15.0", "−9.0". -#}
{% macro signed_points(column) -%}
    (case when {{ column }} < 0 then '−' else '+' end || cast(abs({{ column }}) as varchar))
{%- endmacro %}
