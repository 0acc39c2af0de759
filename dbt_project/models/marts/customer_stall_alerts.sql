{#- Customers sitting in their lifecycle stage too long without activity: the working days (Mon-Fri)
    after the later of the stage entry and their last activity, up to the as-of date. Activity = an
    engagement touchpoint (they did something) or any CRM activity logged on them (sales did).
    Limits per stage from var lifecycle_stall_working_days; unlisted stages are not watched. -#}

{%- set limits = var('lifecycle_stall_working_days') %}

with current_stages as (
    select customer_id, stage, entered_at
    from {{ ref('customer_lifecycle_stages') }}
    where is_current
        and stage in {{ sql_string_list(limits.keys() | list) }}
),

activity as (
    select current_stages.customer_id, max(touchpoints.occurred_at) as last_activity_at
    from current_stages
    inner join {{ ref('fct_touchpoints') }} as touchpoints
        on current_stages.customer_id = touchpoints.customer_id
        and touchpoints.occurred_at >= current_stages.entered_at
        and touchpoints.occurred_at < {{ as_of_end() }}
        and (touchpoints.is_engagement or touchpoints.source_system = 'crm')
    group by current_stages.customer_id
),

counted as (
    select
        current_stages.*,
        activity.last_activity_at,
        case current_stages.stage
        {%- for stage, days in limits.items() %}
            when '{{ stage }}' then {{ days | int }}
        {%- endfor %}
        end as stall_limit_working_days,
        {{ working_days_since('greatest(current_stages.entered_at, activity.last_activity_at)') }}
            as quiet_working_days
    from current_stages
    left join activity on current_stages.customer_id = activity.customer_id
)

select
    counted.customer_id,
    customers.crm_contact_id,
    customers.crm_account_id,
    counted.stage,
    counted.entered_at as stage_entered_at,
    counted.last_activity_at,
    {{ as_of_date() }} as as_of_date,
    len(counted.quiet_working_days) as working_days_without_activity,
    counted.stall_limit_working_days,
    -- The working day on which the customer crossed the limit: "new" alerts crossed on the as-of date.
    cast(counted.quiet_working_days[counted.stall_limit_working_days + 1] as date) as stalled_on
from counted
inner join {{ ref('dim_customers') }} as customers on counted.customer_id = customers.customer_id
where len(counted.quiet_working_days) > counted.stall_limit_working_days
