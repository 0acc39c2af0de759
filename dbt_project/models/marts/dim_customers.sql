{#- The golden record. Each attribute comes from the customer's preferred record that has it:
    CRM contacts first (sales maintains them), then the most recently observed record. -#}

with records as (
    select
        *,
        row_number() over (
            partition by customer_id
            order by (source = 'crm_contacts') desc, observed_at desc, record_id
        ) as preference
    from {{ ref('int_person_records__resolved') }}
),

profiles as (
    select
        customer_id,
        -- First and last name are taken from one record so they belong together.
        first(first_name order by preference)
            filter (where first_name is not null and last_name is not null) as paired_first_name,
        first(last_name order by preference)
            filter (where first_name is not null and last_name is not null) as paired_last_name,
        first(first_name order by preference) filter (where first_name is not null) as any_first_name,
        first(last_name order by preference) filter (where last_name is not null) as any_last_name,
        first(full_name order by preference) filter (where full_name is not null) as full_name,
        first(email order by preference) filter (where email is not null) as email,
        first(phone order by preference) filter (where phone is not null) as phone,
        first(company_name order by preference) filter (where company_name is not null) as company_name,
        first(title order by preference) filter (where title is not null) as title,
        count(*) as source_record_count,
        list_sort(list_distinct(list(source))) as sources,
        min(observed_at) as first_observed_at,
        max(observed_at) as last_observed_at
    from records
    group by customer_id
),

crm_contacts as (
    -- The primary contact is the oldest: later ones are usually CRM duplicates.
    select
        customer_id,
        first(crm_contact_id order by created_at, crm_contact_id) as crm_contact_id,
        first(crm_account_id order by created_at, crm_contact_id)
            filter (where crm_account_id is not null) as any_crm_account_id,
        min(created_at) as first_created_at
    from {{ ref('int_crm_contacts__resolved') }}
    where customer_id is not null
    group by customer_id
),

primary_accounts as (
    select crm_contacts.customer_id, contacts.crm_account_id
    from crm_contacts
    inner join {{ ref('int_crm_contacts__resolved') }} as contacts
        on crm_contacts.crm_contact_id = contacts.crm_contact_id
),

touchpoints as (
    select customer_id, min(occurred_at) as first_touch_at, max(occurred_at) as last_touch_at
    from {{ ref('fct_touchpoints') }}
    where customer_id is not null
    group by customer_id
),

consent_flags as (
    select
        customer_id,
        bool_or(purpose = 'email_marketing' and is_granted) as has_email_marketing_consent,
        bool_or(purpose = 'advertising' and is_granted) as has_advertising_consent,
        bool_or(purpose = 'analytics' and is_granted) as has_analytics_consent
    from {{ ref('int_customer_consents__latest') }}
    group by customer_id
),

esp_activities as (
    select records.customer_id, activities.email, activities.activity_type, activities.is_hard_bounce
    from {{ ref('stg_marketing__email_activities') }} as activities
    inner join records
        on records.source = 'email'
        and records.source_record_id = activities.exported_email
),

unsubscribed as (
    -- An unsubscribe is the person's decision, so it holds for every address of theirs.
    select distinct customer_id
    from esp_activities
    where activity_type = 'unsubscribe'
),

hard_bounced as (
    -- A hard bounce only says that one address is dead.
    select distinct customer_id, email
    from esp_activities
    where is_hard_bounce
)

select
    profiles.customer_id,
    coalesce(profiles.paired_first_name, profiles.any_first_name) as first_name,
    coalesce(profiles.paired_last_name, profiles.any_last_name) as last_name,
    profiles.full_name,
    profiles.email,
    profiles.phone,
    profiles.company_name,
    profiles.title,
    crm_contacts.crm_contact_id,
    coalesce(primary_accounts.crm_account_id, crm_contacts.any_crm_account_id) as crm_account_id,
    profiles.source_record_count,
    profiles.sources,
    least(profiles.first_observed_at, crm_contacts.first_created_at, touchpoints.first_touch_at)
        as first_seen_at,
    greatest(profiles.last_observed_at, touchpoints.last_touch_at) as last_seen_at,
    coalesce(consent_flags.has_email_marketing_consent, false) as has_email_marketing_consent,
    coalesce(consent_flags.has_advertising_consent, false) as has_advertising_consent,
    coalesce(consent_flags.has_analytics_consent, false) as has_analytics_consent,
    (unsubscribed.customer_id is not null or hard_bounced.customer_id is not null) as is_email_suppressed
from profiles
left join crm_contacts
    on profiles.customer_id = crm_contacts.customer_id
left join primary_accounts
    on profiles.customer_id = primary_accounts.customer_id
left join touchpoints
    on profiles.customer_id = touchpoints.customer_id
left join consent_flags
    on profiles.customer_id = consent_flags.customer_id
left join unsubscribed
    on profiles.customer_id = unsubscribed.customer_id
left join hard_bounced
    on profiles.customer_id = hard_bounced.customer_id
    and profiles.email = hard_bounced.email
