{#- Every interaction between the company and a person, across channels, attributed to customers.
    Web events of visitors who never identified stay in with a null customer_id (anonymous
    traffic still counts for attribution); any other record that did not resolve to a customer
    (no email, phone or name; CRM rows without a contact) has no one to attribute and is left out. -#}

with resolved_records as (
    select source, source_record_id, customer_id
    from {{ ref('int_person_records__resolved') }}
),

web_identities as (
    select identifier_type, identifier_value, customer_id
    from {{ ref('int_event_identities__stitched') }}
),

web as (
    select
        'web:' || events.message_id as touchpoint_id,
        coalesce(by_user.customer_id, by_anonymous.customer_id) as customer_id,
        events.anonymous_id,
        events.occurred_at,
        'web' as channel,
        case events.message_type
            when 'page' then 'page_view'
            when 'screen' then 'screen_view'
            else events.event_type
        end as event_type,
        'segment' as source_system,
        coalesce(events.page_path, events.page_url) as target_id,
        cast(null as integer) as duration_sec,
        'marketing' as owner_team,
        events.utm_source,
        events.utm_medium,
        events.utm_campaign,
        events.utm_term,
        events.utm_content,
        true as is_engagement
    from {{ ref('stg_marketing__events') }} as events
    left join web_identities as by_user
        on by_user.identifier_type = 'user_id'
        and by_user.identifier_value = events.user_id
    left join web_identities as by_anonymous
        on by_anonymous.identifier_type = 'anonymous_id'
        and by_anonymous.identifier_value = events.anonymous_id
    -- identify/group/alias calls are identity messages, not interactions.
    where events.message_type in ('page', 'screen', 'track')
),

email as (
    select
        'email:' || activities.email_activity_id as touchpoint_id,
        records.customer_id,
        cast(null as varchar) as anonymous_id,
        activities.occurred_at,
        'email' as channel,
        case activities.activity_type
            when 'sent' then 'email_sent'
            when 'open' then 'email_opened'
            when 'click' then 'email_clicked'
            when 'unsubscribe' then 'email_unsubscribed'
            when 'bounce' then 'email_bounced'
        end as event_type,
        'esp' as source_system,
        activities.campaign_id as target_id,
        cast(null as integer) as duration_sec,
        'marketing' as owner_team,
        cast(null as varchar) as utm_source,
        cast(null as varchar) as utm_medium,
        cast(null as varchar) as utm_campaign,
        cast(null as varchar) as utm_term,
        cast(null as varchar) as utm_content,
        -- Sends and bounces happen to a person; opens and clicks are done by them.
        activities.activity_type in ('open', 'click') as is_engagement
    from {{ ref('stg_marketing__email_activities') }} as activities
    inner join resolved_records as records
        on records.source = 'email'
        and records.source_record_id = activities.exported_email
),

leads as (
    select
        'lead_form:' || leads.lead_id as touchpoint_id,
        records.customer_id,
        cast(null as varchar) as anonymous_id,
        leads.submitted_at as occurred_at,
        'lead_form' as channel,
        case leads.channel
            when 'web_form' then 'form_submitted'
            when 'video_ad_form' then 'ad_form_submitted'
            when 'hotline' then 'hotline_call'
            when 'tradeshow_badges' then 'badge_scanned'
        end as event_type,
        leads.channel as source_system,
        case leads.channel
            when 'web_form' then leads.page_url
            when 'video_ad_form' then leads.campaign_name
            when 'tradeshow_badges' then leads.event_name
        end as target_id,
        cast(null as integer) as duration_sec,
        'marketing' as owner_team,
        leads.utm_source,
        leads.utm_medium,
        leads.utm_campaign,
        cast(null as varchar) as utm_term,
        cast(null as varchar) as utm_content,
        true as is_engagement
    from {{ ref('stg_marketing__lead_forms') }} as leads
    inner join resolved_records as records
        on records.source = 'lead_forms'
        and records.source_record_id = leads.lead_id
),

support as (
    select
        'support:' || tickets.ticket_id as touchpoint_id,
        records.customer_id,
        cast(null as varchar) as anonymous_id,
        tickets.created_at as occurred_at,
        'support' as channel,
        'ticket_created' as event_type,
        'helpdesk' as source_system,
        tickets.ticket_id as target_id,
        cast(null as integer) as duration_sec,
        'service' as owner_team,
        cast(null as varchar) as utm_source,
        cast(null as varchar) as utm_medium,
        cast(null as varchar) as utm_campaign,
        cast(null as varchar) as utm_term,
        cast(null as varchar) as utm_content,
        true as is_engagement
    from {{ ref('stg_service__tickets') }} as tickets
    inner join resolved_records as records
        on records.source = 'tickets'
        and records.source_record_id = tickets.ticket_id
),

nps as (
    select
        'nps:' || responses.nps_response_id as touchpoint_id,
        records.customer_id,
        cast(null as varchar) as anonymous_id,
        responses.responded_at as occurred_at,
        'nps' as channel,
        'nps_response' as event_type,
        'nps_survey' as source_system,
        responses.survey_name as target_id,
        cast(null as integer) as duration_sec,
        'service' as owner_team,
        cast(null as varchar) as utm_source,
        cast(null as varchar) as utm_medium,
        cast(null as varchar) as utm_campaign,
        cast(null as varchar) as utm_term,
        cast(null as varchar) as utm_content,
        true as is_engagement
    from {{ ref('stg_service__nps_responses') }} as responses
    inner join resolved_records as records
        on records.source = 'nps'
        and records.source_record_id = responses.nps_response_id
),

crm_activities as (
    select
        'sales:activity:' || cast(activities.crm_activity_id as varchar) as touchpoint_id,
        contacts.customer_id,
        cast(null as varchar) as anonymous_id,
        activities.occurred_at,
        'sales' as channel,
        'sales_' || activities.activity_type as event_type,
        'crm' as source_system,
        cast(activities.crm_activity_id as varchar) as target_id,
        activities.duration_sec,
        -- Success managers and support agents log activities too; both belong to service.
        case when users.team in ('success', 'support') then 'service' else 'sales' end as owner_team,
        cast(null as varchar) as utm_source,
        cast(null as varchar) as utm_medium,
        cast(null as varchar) as utm_campaign,
        cast(null as varchar) as utm_term,
        cast(null as varchar) as utm_content,
        -- Calls and meetings involve the person; notes and logged emails are one-sided.
        activities.activity_type in ('call', 'meeting') as is_engagement
    from {{ ref('stg_crm__activities') }} as activities
    inner join {{ ref('int_crm_contacts__resolved') }} as contacts
        on activities.crm_contact_id = contacts.crm_contact_id
    left join {{ ref('stg_crm__users') }} as users
        on activities.owner_crm_user_id = users.crm_user_id
    where contacts.customer_id is not null
),

opportunity_events as (
    select crm_opportunity_id, primary_crm_contact_id, 'created' as milestone, created_at as occurred_at
    from {{ ref('stg_crm__opportunities') }}
    union all
    select crm_opportunity_id, primary_crm_contact_id, stage as milestone, stage_entered_at as occurred_at
    from {{ ref('stg_crm__opportunities') }}
    where stage_entered_at is not null
),

opportunities as (
    select
        'sales:opportunity:' || cast(events.crm_opportunity_id as varchar) || ':' || events.milestone
            as touchpoint_id,
        contacts.customer_id,
        cast(null as varchar) as anonymous_id,
        events.occurred_at,
        'sales' as channel,
        'opportunity_' || events.milestone as event_type,
        'crm' as source_system,
        cast(events.crm_opportunity_id as varchar) as target_id,
        cast(null as integer) as duration_sec,
        'sales' as owner_team,
        cast(null as varchar) as utm_source,
        cast(null as varchar) as utm_medium,
        cast(null as varchar) as utm_campaign,
        cast(null as varchar) as utm_term,
        cast(null as varchar) as utm_content,
        false as is_engagement
    from opportunity_events as events
    inner join {{ ref('int_crm_contacts__resolved') }} as contacts
        on events.primary_crm_contact_id = contacts.crm_contact_id
    where contacts.customer_id is not null
        and events.occurred_at is not null
)

select * from web
union all
select * from email
union all
select * from leads
union all
select * from support
union all
select * from nps
union all
select * from crm_activities
union all
select * from opportunities
