{#- The three process KPIs a sales manager tracks, one row each, with its target from vars. -#}

{%- set allowed_fields = ['amount', 'close_date', 'contract_renewal_date', 'primary_crm_contact_id', 'crm_account_id'] %}
{%- for field in var('journey_kpi_required_fields') if field not in allowed_fields %}
    {{ exceptions.raise_compiler_error(
        "var 'journey_kpi_required_fields' names '" ~ field ~ "'; use fields of " ~ allowed_fields | join(', ')
    ) }}
{%- endfor %}

with touchpoints as (
    select *
    from {{ ref('fct_touchpoints') }}
    where customer_id is not null
        and occurred_at < {{ as_of_end() }}
),

leads as (
    -- A lead's capture: their first lead-form submission, if it falls in the window.
    select customer_id, min(occurred_at) as captured_at
    from touchpoints
    where channel = 'lead_form'
    group by customer_id
    having min(occurred_at) >= {{ as_of_date() }} - interval {{ var('journey_kpi_window_days') }} day
),

lead_outcomes as (
    select
        leads.customer_id,
        bool_or(
            touchpoints.event_type in (
                {%- for stage in var('journey_kpi_demo_stages') %}'opportunity_{{ stage }}'{{ ", " if not loop.last }}{% endfor -%}
            )
        ) as reached_demo,
        min(touchpoints.occurred_at) filter (
            where starts_with(touchpoints.event_type, 'sales_') and touchpoints.occurred_at >= leads.captured_at
        ) as first_sales_touch_at,
        any_value(leads.captured_at) as captured_at
    from leads
    left join touchpoints
        on leads.customer_id = touchpoints.customer_id
        and touchpoints.occurred_at >= leads.captured_at
    group by leads.customer_id
),

stage_changes as (
    -- Each opportunity's entry into its current stage within the window.
    select
        {% for field in var('journey_kpi_required_fields') %}{{ field }} is not null{{ " and " if not loop.last }}{% endfor %}
            as has_required_fields
    from {{ ref('stg_crm__opportunities') }}
    where stage_entered_at < {{ as_of_end() }}
        and stage_entered_at >= {{ as_of_date() }} - interval {{ var('journey_kpi_window_days') }} day
),

kpis as (
    select
        'new_leads_reaching_demo_share' as kpi,
        1 as kpi_order,
        avg(case when reached_demo then 1.0 else 0.0 end) as kpi_value,
        count(*) as base_count,
        {{ var('journey_kpi_demo_share_target') }} as target,
        '>=' as target_direction
    from lead_outcomes

    union all

    select
        'stage_changes_with_required_fields_share',
        2,
        avg(case when has_required_fields then 1.0 else 0.0 end),
        count(*),
        {{ var('journey_kpi_required_fields_target') }},
        '>='
    from stage_changes

    union all

    select
        'median_lead_response_hours',
        3,
        median(date_diff('second', captured_at, first_sales_touch_at) / 3600.0),
        count(first_sales_touch_at),
        {{ var('journey_kpi_response_hours_target') }},
        '<='
    from lead_outcomes
)

select
    kpi,
    kpi_order,
    {{ as_of_date() }} as as_of_date,
    cast(round(kpi_value, 4) as decimal(12, 4)) as kpi_value,
    base_count,
    cast(target as decimal(12, 4)) as target,
    target_direction,
    case
        when kpi_value is null then null
        when target_direction = '>=' then kpi_value >= target
        else kpi_value <= target
    end as meets_target
from kpis
