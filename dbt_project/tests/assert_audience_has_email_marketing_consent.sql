-- Consent is non-negotiable: every audience member must have a granted email_marketing consent in
-- force and no unsubscribe on any of their addresses. Checked against the consent model and the
-- touchpoints, not against dim_customers' flags the audience itself was selected by. Only
-- post-identity models are referenced so the check runs with the marts.
with granted as (
    select customer_id
    from {{ ref('int_customer_consents__latest') }}
    where purpose = 'email_marketing'
        and is_granted
),

unsubscribed as (
    select distinct customer_id
    from {{ ref('fct_touchpoints') }}
    where event_type = 'email_unsubscribed'
)

select audience.customer_id
from {{ ref('audience_at_risk_customers') }} as audience
left join granted on audience.customer_id = granted.customer_id
left join unsubscribed on audience.customer_id = unsubscribed.customer_id
where granted.customer_id is null
    or unsubscribed.customer_id is not null
