{#- Splink's input: every source record that describes a person, in one standardised layout.
    Names and phones stay as given (identity/ normalises them); emails are lower-cased and trimmed. -#}

with crm_contacts as (
    select
        'crm_contacts' as source,
        cast(contacts.crm_contact_id as varchar) as source_record_id,
        contacts.first_name,
        contacts.last_name,
        cast(null as varchar) as full_name,
        contacts.email,
        contacts.phone,
        accounts.account_name as company_name,
        contacts.title,
        -- The account's country is the best region hint for national-format phone numbers.
        accounts.country_code as country,
        contacts.crm_contact_id,
        -- updated_at: the values are known to be current as of the last change.
        coalesce(contacts.updated_at, contacts.created_at) as observed_at
    from {{ ref('stg_crm__contacts') }} as contacts
    left join {{ ref('stg_crm__accounts') }} as accounts
        on contacts.crm_account_id = accounts.crm_account_id
),

hubspot_contacts as (
    -- Empty when HubSpot is not configured (raw_hubspot.contacts is then written empty).
    select
        'hubspot_contacts' as source,
        hubspot_contact_id as source_record_id,
        first_name,
        last_name,
        cast(null as varchar) as full_name,
        email,
        phone,
        company_name,
        title,
        cast(null as varchar) as country,
        cast(null as bigint) as crm_contact_id,
        updated_at as observed_at
    from {{ ref('stg_hubspot__contacts') }}
),

identify_calls as (
    select
        'events' as source,
        message_id as source_record_id,
        traits_first_name as first_name,
        traits_last_name as last_name,
        cast(null as varchar) as full_name,
        traits_email as email,
        traits_phone as phone,
        traits_company as company_name,
        traits_title as title,
        cast(null as varchar) as country,
        cast(null as bigint) as crm_contact_id,
        occurred_at as observed_at
    from {{ ref('stg_marketing__events') }}
    where message_type = 'identify'
),

email_recipients as (
    -- One record per recipient address as exported; the ESP knows nothing else about the person.
    select
        'email' as source,
        exported_email as source_record_id,
        cast(null as varchar) as first_name,
        cast(null as varchar) as last_name,
        cast(null as varchar) as full_name,
        min(email) as email,
        cast(null as varchar) as phone,
        cast(null as varchar) as company_name,
        cast(null as varchar) as title,
        cast(null as varchar) as country,
        cast(null as bigint) as crm_contact_id,
        max(occurred_at) as observed_at
    from {{ ref('stg_marketing__email_activities') }}
    group by exported_email
),

leads as (
    select
        'lead_forms' as source,
        lead_id as source_record_id,
        first_name,
        last_name,
        full_name,
        email,
        phone,
        company_name,
        job_title as title,
        country_code as country,
        cast(null as bigint) as crm_contact_id,
        submitted_at as observed_at
    from {{ ref('stg_marketing__lead_forms') }}
),

ticket_requesters as (
    select
        'tickets' as source,
        ticket_id as source_record_id,
        cast(null as varchar) as first_name,
        cast(null as varchar) as last_name,
        requester_name as full_name,
        requester_email as email,
        requester_phone as phone,
        cast(null as varchar) as company_name,
        cast(null as varchar) as title,
        cast(null as varchar) as country,
        cast(null as bigint) as crm_contact_id,
        created_at as observed_at
    from {{ ref('stg_service__tickets') }}
),

nps_respondents as (
    select
        'nps' as source,
        nps_response_id as source_record_id,
        cast(null as varchar) as first_name,
        cast(null as varchar) as last_name,
        cast(null as varchar) as full_name,
        email,
        cast(null as varchar) as phone,
        cast(null as varchar) as company_name,
        cast(null as varchar) as title,
        cast(null as varchar) as country,
        cast(null as bigint) as crm_contact_id,
        responded_at as observed_at
    from {{ ref('stg_service__nps_responses') }}
),

consent_subjects as (
    select
        'consent' as source,
        consent_event_id as source_record_id,
        cast(null as varchar) as first_name,
        cast(null as varchar) as last_name,
        cast(null as varchar) as full_name,
        subject_email as email,
        subject_phone as phone,
        cast(null as varchar) as company_name,
        cast(null as varchar) as title,
        cast(null as varchar) as country,
        cast(null as bigint) as crm_contact_id,
        recorded_at as observed_at
    from {{ ref('stg_consent__consent_events') }}
),

unioned as (
    select * from crm_contacts
    union all
    select * from hubspot_contacts
    union all
    select * from identify_calls
    union all
    select * from email_recipients
    union all
    select * from leads
    union all
    select * from ticket_requesters
    union all
    select * from nps_respondents
    union all
    select * from consent_subjects
)

select
    source || ':' || source_record_id as record_id,
    source,
    source_record_id,
    first_name,
    last_name,
    -- Sources with separate name fields get a display full name; identity/ only splits
    -- full_name when first/last are missing, so this adds no new matching signal.
    coalesce(full_name, nullif(concat_ws(' ', first_name, last_name), '')) as full_name,
    email,
    phone,
    company_name,
    title,
    country,
    crm_contact_id,
    observed_at
from unioned
-- A record with no email, no phone and no name cannot be linked to anyone.
where coalesce(email, phone, first_name, last_name, full_name) is not null
