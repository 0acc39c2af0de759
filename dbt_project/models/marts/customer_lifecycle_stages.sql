{#- Lifecycle history per customer: when they entered and left each stage, from the evidence below.

    Candidate entry per stage (the earliest piece of evidence up to the as-of date wins):
      visitor     - first web touchpoint (anonymous visits are stitched to the customer once they
                    identify); customers never seen on the web: their first touchpoint, else first_seen_at.
      lead        - CRM lifecycle history set to lead (the contact's creation), a lead-form
                    submission or a product sign-up.
      mql         - CRM lifecycle history set to mql, or a high-intent web event (var journey_mql_event_types).
      sql         - CRM lifecycle history set to sql (sales accepted), or the first sales meeting logged in the CRM.
      opportunity - CRM lifecycle history set to opportunity, or the first opportunity they are primary contact of.
      customer    - CRM lifecycle history set to customer, or the first won deal they are primary contact of.
      renewal     - their second won deal: the contract was renewed (or expanded).
      churned     - CRM lifecycle history set to churned (the CRM is authoritative for churn).
    Contacts without any lifecycle history fall back to lead at creation and their current stage at
    their last update. Stages follow the order above; a stage whose evidence comes after the entry into
    a later stage is dropped (a sales meeting with an existing customer does not make them an SQL), and
    so is a visitor stage not strictly before the next one (someone whose first touch is a form was
    never an anonymous visitor).
    A stage is left when the next kept stage is entered; the last kept stage is the current one. -#}

{%- set stages = ['visitor', 'lead', 'mql', 'sql', 'opportunity', 'customer', 'renewal', 'churned'] %}

with customers as (
    select customer_id, first_seen_at
    from {{ ref('dim_customers') }}
),

touchpoints as (
    select customer_id, occurred_at, channel, event_type
    from {{ ref('fct_touchpoints') }}
    where customer_id is not null
        and occurred_at < {{ as_of_end() }}
),

contacts as (
    select crm_contact_id, customer_id, lifecycle_stage, created_at, updated_at
    from {{ ref('int_crm_contacts__resolved') }}
    where customer_id is not null
),

history as (
    select history.crm_contact_id, history.new_value as stage, history.changed_at
    from {{ ref('stg_crm__contact_history') }} as history
    where history.field_name = 'lifecycle_stage'
),

crm_changes as (
    select contacts.customer_id, history.stage, history.changed_at as entered_at, 'crm_lifecycle' as evidence
    from history
    inner join contacts on history.crm_contact_id = contacts.crm_contact_id
    union all
    -- Contacts the CRM keeps no history for.
    select customer_id, 'lead', created_at, 'crm_contact_created'
    from contacts
    where crm_contact_id not in (select crm_contact_id from history)
    union all
    select customer_id, coalesce(lifecycle_stage, 'lead'), updated_at, 'crm_lifecycle'
    from contacts
    where crm_contact_id not in (select crm_contact_id from history)
),

deals as (
    select
        contacts.customer_id,
        opportunities.created_at,
        case when opportunities.is_won then coalesce(opportunities.stage_entered_at, opportunities.close_date) end
            as won_at
    from {{ ref('stg_crm__opportunities') }} as opportunities
    inner join contacts on opportunities.primary_crm_contact_id = contacts.crm_contact_id
),

candidates as (
    select customer_id, stage, entered_at, evidence
    from crm_changes
    union all
    select customer_id, 'visitor', min(occurred_at), 'web_visit'
    from touchpoints
    where channel = 'web'
    group by customer_id
    union all
    select customer_id, 'visitor', min(occurred_at), 'first_touch'
    from touchpoints
    where customer_id not in (select customer_id from touchpoints where channel = 'web')
    group by customer_id
    union all
    select customer_id, 'visitor', first_seen_at, 'first_seen'
    from customers
    where customer_id not in (select customer_id from touchpoints)
    union all
    select customer_id, 'lead', min(occurred_at), 'lead_capture'
    from touchpoints
    where channel = 'lead_form' or event_type = 'signed_up'
    group by customer_id
    union all
    select customer_id, 'mql', min(occurred_at), 'high_intent_event'
    from touchpoints
    where event_type in {{ sql_string_list(var('journey_mql_event_types')) }}
    group by customer_id
    union all
    select customer_id, 'sql', min(occurred_at), 'sales_meeting'
    from touchpoints
    where event_type = 'sales_meeting'
    group by customer_id
    union all
    select customer_id, 'opportunity', min(created_at), 'opportunity_created'
    from deals
    group by customer_id
    union all
    select customer_id, 'customer', min(won_at), 'deal_won'
    from deals
    group by customer_id
    union all
    select customer_id, 'renewal', list_sort(list(won_at) filter (where won_at is not null))[2], 'second_deal_won'
    from deals
    group by customer_id
),

earliest as (
    select
        customer_id,
        stage,
        case stage
        {%- for stage in stages %}
            when '{{ stage }}' then {{ loop.index }}
        {%- endfor %}
        end as stage_rank,
        min(entered_at) as entered_at,
        -- Ties (a CRM change and a deal at the same second) name the evidence alphabetically first.
        first(evidence order by entered_at, evidence) as evidence
    from candidates
    where entered_at < {{ as_of_end() }}
        and stage in {{ sql_string_list(stages) }}
    group by customer_id, stage
),

ordered as (
    select
        *,
        min(entered_at) over (
            partition by customer_id order by stage_rank desc rows between unbounded preceding and 1 preceding
        ) as next_stages_entered_at
    from earliest
),

kept as (
    select customer_id, stage, stage_rank, entered_at, evidence
    from ordered
    where next_stages_entered_at is null
        or entered_at < next_stages_entered_at
        -- Two stages set at once (a contact created as an MQL) both happened; a first visit at the
        -- moment of a later stage is not a visit.
        or (entered_at = next_stages_entered_at and stage <> 'visitor')
),

sequenced as (
    select
        *,
        lead(entered_at) over (partition by customer_id order by stage_rank) as exited_at,
        lead(stage) over (partition by customer_id order by stage_rank) as next_stage
    from kept
)

select
    customer_id || ':' || stage as customer_lifecycle_stage_id,
    customer_id,
    stage,
    stage_rank,
    entered_at,
    exited_at,
    next_stage,
    evidence,
    exited_at is null as is_current,
    date_diff('day', cast(entered_at as date), coalesce(cast(exited_at as date), {{ as_of_date() }}))
        as days_in_stage
from sequenced
