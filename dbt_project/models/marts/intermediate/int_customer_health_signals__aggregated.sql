{#- The raw facts behind each health component, per customer, as of the as-of date. Kept apart
    from the scoring so the scoring rules can be unit-tested on hand-made signals. -#}

{%- set due_days = var('health_ticket_due_days') %}

with customers as (
    select customer_id, is_email_suppressed
    from {{ ref('dim_customers') }}
),

touchpoints as (
    select *
    from {{ ref('fct_touchpoints') }}
    where customer_id is not null
        and occurred_at < {{ as_of_end() }}
),

engagement as (
    select
        customer_id,
        max(occurred_at) as last_engagement_at,
        -- Frequency: engagement touchpoints on any channel within the look-back window.
        count(*) filter (
            where occurred_at >= {{ as_of_date() }} - interval {{ var('health_frequency_lookback_days') }} day
        ) as recent_engagement_count
    from touchpoints
    where is_engagement
    group by customer_id
),

campaigns as (
    -- One row per customer and campaign; only campaigns sent within the look-back window count.
    select
        customer_id,
        target_id as campaign_id,
        bool_or(
            event_type = 'email_sent'
            and occurred_at >= {{ as_of_date() }} - interval {{ var('health_email_lookback_days') }} day
        ) as was_sent,
        bool_or(event_type in ('email_opened', 'email_clicked')) as was_engaged
    from touchpoints
    where channel = 'email'
    group by customer_id, target_id
),

email as (
    select
        customer_id,
        count(*) filter (where was_sent) as email_campaigns_sent,
        count(*) filter (where was_sent and was_engaged) as email_campaigns_engaged
    from campaigns
    group by customer_id
),

nps as (
    select
        records.customer_id,
        first(responses.nps_score order by responses.responded_at desc, responses.nps_response_id desc)
            as latest_nps_score,
        list(responses.nps_score order by responses.responded_at desc, responses.nps_response_id desc)[2]
            as previous_nps_score,
        max(responses.responded_at) as latest_nps_responded_at
    from {{ ref('stg_service__nps_responses') }} as responses
    inner join {{ ref('int_person_records__resolved') }} as records
        on records.source = 'nps'
        and records.source_record_id = responses.nps_response_id
    where responses.responded_at < {{ as_of_end() }}
    group by records.customer_id
),

tickets as (
    select
        records.customer_id,
        tickets.csat_score,
        tickets.is_escalated,
        tickets.created_at >= {{ as_of_date() }} - interval {{ var('health_support_lookback_days') }} day
            as is_recent,
        -- Open on the as-of date: still open now, or solved only after it.
        (tickets.is_open or tickets.solved_at >= {{ as_of_end() }}) as is_open_at_as_of,
        -- Due this many days after creation, by priority (var health_ticket_due_days).
        tickets.created_at + to_days(case tickets.priority
        {%- for priority, days in due_days.items() if priority != 'default' %}
            when '{{ priority }}' then {{ days | int }}
        {%- endfor %}
            else {{ due_days['default'] | int }}
        end) < {{ as_of_end() }} as is_past_due
    from {{ ref('stg_service__tickets') }} as tickets
    inner join {{ ref('int_person_records__resolved') }} as records
        on records.source = 'tickets'
        and records.source_record_id = tickets.ticket_id
    where tickets.created_at < {{ as_of_end() }}
),

buying as (
    -- Web buying signals: views of the pricing or demo page, demo requests, content downloads.
    select customer_id, count(*) as buying_signal_count
    from touchpoints
    where channel = 'web'
        and occurred_at >= {{ as_of_date() }} - interval {{ var('health_buying_lookback_days') }} day
        and (
            event_type in ('demo_requested', 'content_downloaded')
            or (event_type = 'page_view' and target_id in ('/pricing', '/demo'))
        )
    group by customer_id
),

crm_customers as (
    -- Contacts the CRM marks as customers: the ones an account team is expected to look after.
    select distinct customer_id
    from {{ ref('int_crm_contacts__resolved') }}
    where customer_id is not null and lifecycle_stage = 'customer'
),

account_team as (
    -- Calls, meetings, emails and notes logged in the CRM in the contact window.
    select customer_id, count(*) as account_team_touches
    from touchpoints
    where channel = 'sales'
        and starts_with(event_type, 'sales_')
        and occurred_at >= {{ as_of_end() }} - interval {{ 7 * var('health_contact_window_weeks') }} day
    group by customer_id
),

support as (
    -- Recent tickets count; an old ticket that is still open counts as well.
    select
        customer_id,
        count(*) as support_ticket_count,
        count(*) filter (where is_open_at_as_of) as open_ticket_count,
        count(*) filter (where is_escalated) as escalated_ticket_count,
        count(*) filter (where is_open_at_as_of and is_past_due) as overdue_ticket_count,
        count(*) filter (where is_open_at_as_of and is_escalated) as open_escalated_ticket_count,
        avg(csat_score) as avg_csat_score
    from tickets
    where is_recent or is_open_at_as_of
    group by customer_id
),

crm_links as (
    -- The CRM contacts and accounts a customer is: deals count through either.
    select distinct customer_id, crm_contact_id, crm_account_id
    from {{ ref('int_crm_contacts__resolved') }}
    where customer_id is not null
),

cadence_alerts as (
    -- The contact-cadence warning on the customer's CRM accounts; max() prefers the stricter
    -- below_weekly_minimum over below_average_target.
    select crm_links.customer_id, max(alerts.alert_rule) as contact_cadence_alert_rule
    from crm_links
    inner join {{ ref('account_contact_cadence_alerts') }} as alerts
        on crm_links.crm_account_id = alerts.crm_account_id
    group by crm_links.customer_id
),

customer_deals as (
    select distinct crm_links.customer_id, opportunities.*
    from crm_links
    inner join {{ ref('stg_crm__opportunities') }} as opportunities
        on opportunities.crm_account_id = crm_links.crm_account_id
        or opportunities.primary_crm_contact_id = crm_links.crm_contact_id
),

contracts as (
    -- The contract runs until the latest renewal date of the deals won by the as-of date.
    select customer_id, max(contract_renewal_date) as contract_end_date
    from customer_deals
    where is_won
        and coalesce(close_date, cast(stage_entered_at as date)) <= {{ as_of_date() }}
    group by customer_id
),

deals as (
    select
        customer_deals.customer_id,
        count(*) as open_opportunity_count,
        count(stalled.crm_opportunity_id) as stalled_opportunity_count
    from customer_deals
    left join {{ ref('opportunity_stall_alerts') }} as stalled
        on customer_deals.crm_opportunity_id = stalled.crm_opportunity_id
    where not customer_deals.is_closed
        and customer_deals.stage_entered_at < {{ as_of_end() }}
    group by customer_deals.customer_id
),

role_changes as (
    -- A title or company change on any of the customer's CRM contacts within the look-back window.
    select crm_links.customer_id, max(history.changed_at) as last_role_change_at
    from crm_links
    inner join {{ ref('stg_crm__contact_history') }} as history
        on crm_links.crm_contact_id = history.crm_contact_id
    where history.field_name in ('title', 'account_id')
        and history.old_value is not null
        and history.changed_at >= {{ as_of_date() }} - interval {{ var('health_key_contact_lookback_days') }} day
        and history.changed_at < {{ as_of_end() }}
    group by crm_links.customer_id
),

bounces as (
    select records.customer_id, max(activities.occurred_at) as last_hard_bounce_at
    from {{ ref('stg_marketing__email_activities') }} as activities
    inner join {{ ref('int_person_records__resolved') }} as records
        on records.source = 'email'
        and records.source_record_id = activities.exported_email
    where activities.is_hard_bounce
        and activities.occurred_at >= {{ as_of_date() }} - interval {{ var('health_key_contact_lookback_days') }} day
        and activities.occurred_at < {{ as_of_end() }}
    group by records.customer_id
)

select
    customers.customer_id,
    {{ as_of_date() }} as as_of_date,
    engagement.last_engagement_at,
    date_diff('day', cast(engagement.last_engagement_at as date), {{ as_of_date() }})
        as days_since_last_engagement,
    coalesce(engagement.recent_engagement_count, 0) as recent_engagement_count,
    coalesce(email.email_campaigns_sent, 0) as email_campaigns_sent,
    coalesce(email.email_campaigns_engaged, 0) as email_campaigns_engaged,
    customers.is_email_suppressed,
    nps.latest_nps_score,
    nps.latest_nps_responded_at,
    nps.previous_nps_score,
    coalesce(support.support_ticket_count, 0) as support_ticket_count,
    coalesce(support.open_ticket_count, 0) as open_ticket_count,
    coalesce(support.escalated_ticket_count, 0) as escalated_ticket_count,
    coalesce(support.overdue_ticket_count, 0) as overdue_ticket_count,
    coalesce(support.open_escalated_ticket_count, 0) as open_escalated_ticket_count,
    support.avg_csat_score,
    contracts.contract_end_date,
    date_diff('day', {{ as_of_date() }}, contracts.contract_end_date) as days_until_contract_end,
    coalesce(deals.open_opportunity_count, 0) as open_opportunity_count,
    coalesce(deals.stalled_opportunity_count, 0) as stalled_opportunity_count,
    role_changes.last_role_change_at,
    bounces.last_hard_bounce_at,
    coalesce(buying.buying_signal_count, 0) as buying_signal_count,
    crm_customers.customer_id is not null as is_crm_customer,
    coalesce(account_team.account_team_touches, 0) as account_team_touches,
    cadence_alerts.contact_cadence_alert_rule
from customers
left join engagement on customers.customer_id = engagement.customer_id
left join email on customers.customer_id = email.customer_id
left join nps on customers.customer_id = nps.customer_id
left join support on customers.customer_id = support.customer_id
left join buying on customers.customer_id = buying.customer_id
left join crm_customers on customers.customer_id = crm_customers.customer_id
left join account_team on customers.customer_id = account_team.customer_id
left join cadence_alerts on customers.customer_id = cadence_alerts.customer_id
left join contracts on customers.customer_id = contracts.customer_id
left join deals on customers.customer_id = deals.customer_id
left join role_changes on customers.customer_id = role_changes.customer_id
left join bounces on customers.customer_id = bounces.customer_id
