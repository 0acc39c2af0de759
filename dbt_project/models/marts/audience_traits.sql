{#- The one relation audience definitions may filter on (connectors/audiences/_schema.py lists its
    columns as the allowed fields), with the consent and suppression flags every audience enforces. -#}

with countries as (
    select customer_id, first(country order by observed_at desc nulls last) as country_code
    from {{ ref('int_person_records__resolved') }}
    where country is not null
    group by customer_id
),

renewals as (
    -- Next contract renewal of a won deal the customer is the primary contact of.
    select contacts.customer_id, min(opportunities.contract_renewal_date) as next_renewal_date
    from {{ ref('stg_crm__opportunities') }} as opportunities
    inner join {{ ref('int_crm_contacts__resolved') }} as contacts
        on opportunities.primary_crm_contact_id = contacts.crm_contact_id
    where opportunities.is_won
        and opportunities.contract_renewal_date >= {{ as_of_date() }}
    group by contacts.customer_id
),

signals as (
    select customer_id, latest_nps_score
    from {{ ref('int_customer_health_signals__aggregated') }}
)

select
    customers.customer_id,
    {{ as_of_date() }} as as_of_date,
    customers.email,
    customers.phone,
    countries.country_code,
    customers.first_name,
    customers.company_name,
    customers.title,
    health.health_score,
    health.health_tier,
    journey.current_stage as journey_stage,
    signals.latest_nps_score,
    renewals.next_renewal_date,
    date_diff('day', {{ as_of_date() }}, renewals.next_renewal_date) as days_until_renewal,
    customers.has_email_marketing_consent,
    customers.has_advertising_consent,
    customers.is_email_suppressed
from {{ ref('dim_customers') }} as customers
left join countries on customers.customer_id = countries.customer_id
left join renewals on customers.customer_id = renewals.customer_id
left join signals on customers.customer_id = signals.customer_id
left join {{ ref('customer_health') }} as health on customers.customer_id = health.customer_id
left join {{ ref('customer_journey') }} as journey on customers.customer_id = journey.customer_id
