{#- Where each customer is in the funnel on the as-of date. Stage rules, first match wins:

    1. churned     - a CRM contact of theirs has lifecycle churned (the CRM is authoritative for churn).
    2. customer    - lifecycle customer, or a won opportunity they are the primary contact of,
                     closed by the as-of date.
    3. opportunity - lifecycle opportunity, or an opportunity they are the primary contact of that
                     is open on the as-of date.
    4. sql         - lifecycle sql.
    5. mql         - lifecycle mql, or a high-intent web event (var journey_mql_event_types).
    6. lead        - lifecycle lead (or none), or a lead-form submission or sign-up.
    7. visitor     - everyone else (known only from web, email, support, NPS or consent records).

    The CRM lifecycle used is the most advanced one across the customer's CRM contacts (duplicates
    may lag behind). stage_entered_at is the best evidence for that stage: won deal close date,
    first open opportunity created, first MQL event / lead capture / touch; otherwise when the CRM
    set that lifecycle (contact history), or, without history, the contact's last update. -#}

{%- set stages = ['lead', 'mql', 'sql', 'opportunity', 'customer', 'churned'] %}

with customers as (
    select customer_id, first_seen_at
    from {{ ref('dim_customers') }}
),

touchpoints as (
    select *
    from {{ ref('fct_touchpoints') }}
    where customer_id is not null
        and occurred_at < {{ as_of_end() }}
),

touch_summary as (
    select
        customer_id,
        min(occurred_at) as first_touch_at,
        first(channel order by occurred_at, touchpoint_id) as first_touch_channel,
        max(occurred_at) as last_touch_at,
        first(channel order by occurred_at desc, touchpoint_id desc) as last_touch_channel,
        min(occurred_at) filter (
            where event_type in {{ sql_string_list(var('journey_mql_event_types')) }}
        ) as first_mql_touch_at,
        min(occurred_at) filter (where channel = 'lead_form' or event_type = 'signed_up') as first_lead_touch_at
    from touchpoints
    group by customer_id
),

contacts as (
    select
        *,
        case lifecycle_stage
        {%- for stage in stages %}
            when '{{ stage }}' then {{ loop.index }}
        {%- endfor %}
            -- A contact without a lifecycle is still someone sales knows: a lead.
            else 1
        end as lifecycle_rank
    from {{ ref('int_crm_contacts__resolved') }}
    where customer_id is not null
),

crm as (
    select
        customer_id,
        max(lifecycle_rank) as lifecycle_rank,
        min(created_at) as first_contact_created_at
    from contacts
    group by customer_id
),

lifecycle_history as (
    select contacts.customer_id, history.new_value as lifecycle_stage, min(history.changed_at) as changed_at
    from {{ ref('stg_crm__contact_history') }} as history
    inner join contacts on history.crm_contact_id = contacts.crm_contact_id
    where history.field_name = 'lifecycle_stage'
        and history.changed_at < {{ as_of_end() }}
    group by contacts.customer_id, history.new_value
),

crm_stage as (
    -- When the most advanced lifecycle was set: the CRM history says when; without history, the
    -- earliest update among the contacts holding it.
    select
        crm.customer_id,
        crm.lifecycle_rank,
        crm.first_contact_created_at,
        coalesce(min(lifecycle_history.changed_at), min(contacts.updated_at)) as lifecycle_set_at
    from crm
    inner join contacts
        on crm.customer_id = contacts.customer_id
        and crm.lifecycle_rank = contacts.lifecycle_rank
    left join lifecycle_history
        on contacts.customer_id = lifecycle_history.customer_id
        and contacts.lifecycle_stage = lifecycle_history.lifecycle_stage
    group by crm.customer_id, crm.lifecycle_rank, crm.first_contact_created_at
),

deals as (
    -- A deal moves its primary contact only: colleagues at the same account keep the lifecycle
    -- the CRM gives them (a customer's new contact is not automatically a customer).
    select
        contacts.customer_id,
        min(coalesce(cast(opportunities.close_date as timestamp), opportunities.stage_entered_at)) filter (
            where opportunities.is_won
                and coalesce(opportunities.close_date, cast(opportunities.stage_entered_at as date))
                    <= {{ as_of_date() }}
        ) as first_won_at,
        min(opportunities.created_at) filter (
            where opportunities.created_at < {{ as_of_end() }}
                and (not opportunities.is_closed or opportunities.close_date > {{ as_of_date() }})
        ) as first_open_opportunity_at
    from contacts
    inner join {{ ref('stg_crm__opportunities') }} as opportunities
        on contacts.crm_contact_id = opportunities.primary_crm_contact_id
    group by contacts.customer_id
),

staged as (
    select
        customers.customer_id,
        touch_summary.first_touch_at,
        touch_summary.first_touch_channel,
        touch_summary.last_touch_at,
        touch_summary.last_touch_channel,
        case
            when crm_stage.lifecycle_rank = 6 then 'churned'
            when crm_stage.lifecycle_rank = 5 or deals.first_won_at is not null then 'customer'
            when crm_stage.lifecycle_rank = 4 or deals.first_open_opportunity_at is not null then 'opportunity'
            when crm_stage.lifecycle_rank = 3 then 'sql'
            when crm_stage.lifecycle_rank = 2 or touch_summary.first_mql_touch_at is not null then 'mql'
            when crm_stage.lifecycle_rank = 1 or touch_summary.first_lead_touch_at is not null then 'lead'
            else 'visitor'
        end as current_stage,
        crm_stage.lifecycle_rank,
        crm_stage.lifecycle_set_at,
        crm_stage.first_contact_created_at,
        deals.first_won_at,
        deals.first_open_opportunity_at,
        touch_summary.first_mql_touch_at,
        touch_summary.first_lead_touch_at,
        customers.first_seen_at
    from customers
    left join touch_summary on customers.customer_id = touch_summary.customer_id
    left join crm_stage on customers.customer_id = crm_stage.customer_id
    left join deals on customers.customer_id = deals.customer_id
),

entered as (
    select
        *,
        coalesce(
            case current_stage
                when 'churned' then lifecycle_set_at
                when 'customer' then coalesce(first_won_at, lifecycle_set_at)
                when 'opportunity' then coalesce(first_open_opportunity_at, lifecycle_set_at)
                when 'sql' then lifecycle_set_at
                when 'mql' then least(first_mql_touch_at, case when lifecycle_rank = 2 then lifecycle_set_at end)
                when 'lead' then least(first_contact_created_at, first_lead_touch_at)
                else first_touch_at
            end,
            first_seen_at
        ) as stage_entered_at
    from staged
)

select
    customer_id,
    first_touch_at,
    first_touch_channel,
    last_touch_at,
    last_touch_channel,
    current_stage,
    stage_entered_at,
    greatest(0, date_diff('day', cast(stage_entered_at as date), {{ as_of_date() }})) as days_in_stage
from entered
