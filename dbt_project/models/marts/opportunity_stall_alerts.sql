{#- Open opportunities sitting in their stage too long without activity: the days counted are working
    days (Mon-Fri) after the later of stage entry and the last CRM activity on the deal's account or
    primary contact, up to the as-of date. Thresholds per stage from var journey_stall_working_days. -#}

{%- set limits = var('journey_stall_working_days') %}

with opportunities as (
    select *
    from {{ ref('stg_crm__opportunities') }}
    where not is_closed
        and stage_entered_at < {{ as_of_end() }}
),

activity as (
    select
        opportunities.crm_opportunity_id,
        max(activities.occurred_at) as last_activity_at
    from opportunities
    inner join {{ ref('stg_crm__activities') }} as activities
        on (
            activities.crm_account_id = opportunities.crm_account_id
            or activities.crm_contact_id = opportunities.primary_crm_contact_id
        )
        and activities.occurred_at >= opportunities.stage_entered_at
        and activities.occurred_at < {{ as_of_end() }}
    group by opportunities.crm_opportunity_id
),

quiet as (
    select
        opportunities.*,
        activity.last_activity_at,
        greatest(opportunities.stage_entered_at, activity.last_activity_at) as quiet_since,
        case opportunities.stage
        {%- for stage, days in limits.items() if stage != 'default' %}
            when '{{ stage }}' then {{ days | int }}
        {%- endfor %}
            else {{ limits['default'] | int }}
        end as stall_limit_working_days
    from opportunities
    left join activity on opportunities.crm_opportunity_id = activity.crm_opportunity_id
),

counted as (
    select
        *,
        -- The working days after the quiet day, up to and including the as-of date.
        {{ working_days_since('quiet_since') }} as quiet_working_days
    from quiet
)

select
    counted.crm_opportunity_id,
    counted.crm_account_id,
    counted.primary_crm_contact_id,
    contacts.customer_id as primary_customer_id,
    counted.stage,
    counted.amount,
    counted.stage_entered_at,
    counted.last_activity_at,
    {{ as_of_date() }} as as_of_date,
    len(counted.quiet_working_days) as working_days_without_activity,
    counted.stall_limit_working_days,
    -- The working day on which the deal crossed its limit: "new" alerts are those crossed on the as-of date.
    cast(counted.quiet_working_days[counted.stall_limit_working_days + 1] as date) as stalled_on
from counted
left join {{ ref('int_crm_contacts__resolved') }} as contacts
    on counted.primary_crm_contact_id = contacts.crm_contact_id
where len(counted.quiet_working_days) > counted.stall_limit_working_days
