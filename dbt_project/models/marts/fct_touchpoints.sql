{#- Every interaction between the company and a person, across channels, attributed to customers.
    Web events of visitors who never identified stay in with a null customer_id (anonymous
    traffic still counts for attribution); any other record that did not resolve to a customer
    (no email, phone or name; CRM rows without a contact) has no one to attribute and is left out.
    Each source's column list is rendered by macros/touchpoints.sql, so all of them line up. -#}

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
        {{ touchpoint_columns({
            'touchpoint_id': "'web:' || events.message_id",
            'customer_id': 'coalesce(by_user.customer_id, by_anonymous.customer_id)',
            'anonymous_id': 'events.anonymous_id',
            'occurred_at': 'events.occurred_at',
            'channel': "'web'",
            'event_type': "case events.message_type when 'page' then 'page_view' when 'screen' then 'screen_view'
                else events.event_type end",
            'source_system': "'segment'",
            'target_id': 'coalesce(events.page_path, events.page_url)',
            'owner_team': "'marketing'",
            'utm_source': 'events.utm_source',
            'utm_medium': 'events.utm_medium',
            'utm_campaign': 'events.utm_campaign',
            'utm_term': 'events.utm_term',
            'utm_content': 'events.utm_content',
            'user_agent': 'events.context_user_agent',
            'device_type': "case
                when events.context_user_agent is null then null
                when regexp_matches(events.context_user_agent, 'iPad|Tablet') then 'tablet'
                when regexp_matches(events.context_user_agent, 'Mobi|iPhone|Android') then 'mobile'
                else 'desktop' end",
            'ip_address': 'events.context_ip',
            'locale': 'events.context_locale',
            'is_engagement': 'true',
        }) }}
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
        {{ touchpoint_columns({
            'touchpoint_id': "'email:' || activities.email_activity_id",
            'customer_id': 'records.customer_id',
            'occurred_at': 'activities.occurred_at',
            'channel': "'email'",
            'event_type': "case activities.activity_type when 'sent' then 'email_sent' when 'open' then 'email_opened'
                when 'click' then 'email_clicked' when 'unsubscribe' then 'email_unsubscribed'
                when 'bounce' then 'email_bounced' end",
            'source_system': "'esp'",
            'target_id': 'activities.campaign_id',
            'owner_team': "'marketing'",
            'is_engagement': "activities.activity_type in ('open', 'click')",
        }) }}
    -- Sends and bounces happen to a person; opens and clicks are done by them (is_engagement).
    from {{ ref('stg_marketing__email_activities') }} as activities
    inner join resolved_records as records
        on records.source = 'email'
        and records.source_record_id = activities.exported_email
),

leads as (
    select
        {{ touchpoint_columns({
            'touchpoint_id': "'lead_form:' || leads.lead_id",
            'customer_id': 'records.customer_id',
            'occurred_at': 'leads.submitted_at',
            'channel': "'lead_form'",
            'event_type': "case leads.channel when 'web_form' then 'form_submitted'
                when 'video_ad_form' then 'ad_form_submitted' when 'hotline' then 'hotline_call'
                when 'tradeshow_badges' then 'badge_scanned' end",
            'source_system': 'leads.channel',
            'target_id': "case leads.channel when 'web_form' then leads.page_url
                when 'video_ad_form' then leads.campaign_name when 'tradeshow_badges' then leads.event_name end",
            'owner_team': "'marketing'",
            'utm_source': 'leads.utm_source',
            'utm_medium': 'leads.utm_medium',
            'utm_campaign': 'leads.utm_campaign',
            'is_engagement': 'true',
        }) }}
    from {{ ref('stg_marketing__lead_forms') }} as leads
    inner join resolved_records as records
        on records.source = 'lead_forms'
        and records.source_record_id = leads.lead_id
),

support as (
    select
        {{ touchpoint_columns({
            'touchpoint_id': "'support:' || tickets.ticket_id",
            'customer_id': 'records.customer_id',
            'occurred_at': 'tickets.created_at',
            'channel': "'support'",
            'event_type': "'ticket_created'",
            'source_system': "'helpdesk'",
            'target_id': 'tickets.ticket_id',
            'owner_team': "'service'",
            'is_engagement': 'true',
        }) }}
    from {{ ref('stg_service__tickets') }} as tickets
    inner join resolved_records as records
        on records.source = 'tickets'
        and records.source_record_id = tickets.ticket_id
),

nps as (
    select
        {{ touchpoint_columns({
            'touchpoint_id': "'nps:' || responses.nps_response_id",
            'customer_id': 'records.customer_id',
            'occurred_at': 'responses.responded_at',
            'channel': "'nps'",
            'event_type': "'nps_response'",
            'source_system': "'nps_survey'",
            'target_id': 'responses.survey_name',
            'owner_team': "'service'",
            'is_engagement': 'true',
        }) }}
    from {{ ref('stg_service__nps_responses') }} as responses
    inner join resolved_records as records
        on records.source = 'nps'
        and records.source_record_id = responses.nps_response_id
),

crm_activities as (
    -- Success managers and support agents log activities too; both belong to service. Calls and
    -- meetings involve the person; notes and logged emails are one-sided (not engagement).
    select
        {{ touchpoint_columns({
            'touchpoint_id': "'sales:activity:' || cast(activities.crm_activity_id as varchar)",
            'customer_id': 'contacts.customer_id',
            'occurred_at': 'activities.occurred_at',
            'channel': "'sales'",
            'event_type': "'sales_' || activities.activity_type",
            'source_system': "'crm'",
            'target_id': 'activities.crm_activity_id',
            'duration_sec': 'activities.duration_sec',
            'owner_team': "case when users.team in ('success', 'support') then 'service' else 'sales' end",
            'is_engagement': "activities.activity_type in ('call', 'meeting')",
        }) }}
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
        {{ touchpoint_columns({
            'touchpoint_id': "'sales:opportunity:' || cast(events.crm_opportunity_id as varchar) || ':' || events.milestone",
            'customer_id': 'contacts.customer_id',
            'occurred_at': 'events.occurred_at',
            'channel': "'sales'",
            'event_type': "'opportunity_' || events.milestone",
            'source_system': "'crm'",
            'target_id': 'events.crm_opportunity_id',
            'owner_team': "'sales'",
            'is_engagement': 'false',
        }) }}
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
