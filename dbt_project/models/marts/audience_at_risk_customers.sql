{#- At-risk paying customers the success team may email. Consent is non-negotiable: the latest
    email_marketing consent must be a grant, the address must not be suppressed (unsubscribed or
    hard-bounced), and there must be an address at all. -#}

select
    customers.customer_id,
    customers.email,
    customers.first_name,
    customers.last_name,
    health.health_score,
    health.health_top_reason
from {{ ref('dim_customers') }} as customers
inner join {{ ref('customer_health') }} as health
    on customers.customer_id = health.customer_id
inner join {{ ref('customer_journey') }} as journey
    on customers.customer_id = journey.customer_id
where journey.current_stage = 'customer'
    and health.health_tier = 'at_risk'
    and customers.has_email_marketing_consent
    and not customers.is_email_suppressed
    and customers.email is not null
