{#- Account health: the customers' scores averaged with a seniority weight per customer, taken from
    the title of their CRM contact (var account_health_seniority_weights; customers without a
    matching title weigh 1). Decision makers move the account more than day-to-day users. -#}

with members as (
    select customer_id, account_id, match_rule
    from {{ source('identity', 'customer_accounts') }}
),

titles as (
    select contacts.customer_id, crm.title
    from {{ ref('int_crm_contacts__resolved') }} as contacts
    inner join {{ ref('stg_crm__contacts') }} as crm on contacts.crm_contact_id = crm.crm_contact_id
    where contacts.customer_id is not null
),

seniority as (
    -- A customer with several CRM contacts weighs as their most senior title.
    select
        customer_id,
        max(
            case
            {%- for rule in var('account_health_seniority_weights') %}
                when regexp_matches(title, '{{ rule["pattern"] | replace("'", "''") }}', 'i')
                    then {{ rule["weight"] | float }}
            {%- endfor %}
                else 1.0
            end
        ) as seniority_weight
    from titles
    group by customer_id
),

scored as (
    select
        members.account_id,
        health.customer_id,
        health.health_score,
        health.health_tier,
        coalesce(seniority.seniority_weight, 1.0) as seniority_weight
    from members
    inner join {{ ref('customer_health') }} as health on members.customer_id = health.customer_id
    left join seniority on members.customer_id = seniority.customer_id
),

rolled as (
    select
        account_id,
        cast(round(cast(sum(seniority_weight * health_score) / sum(seniority_weight) as decimal(18, 6)), 1)
            as decimal(5, 1)) as account_health_score,
        count(*) as customer_count,
        count(*) filter (where health_tier = 'at_risk') as at_risk_customer_count,
        sum(seniority_weight) as total_seniority_weight,
        min(health_score) as lowest_customer_score,
        arg_min(customer_id, (health_score, customer_id)) as lowest_scoring_customer_id
    from scored
    group by account_id
)

select
    rolled.account_id,
    accounts.account_name,
    accounts.account_domain,
    {{ as_of_date() }} as as_of_date,
    rolled.account_health_score,
    case
        when rolled.account_health_score >= {{ var('health_tier_healthy_min') }} then 'healthy'
        when rolled.account_health_score >= {{ var('health_tier_watch_min') }} then 'watch'
        else 'at_risk'
    end as account_health_tier,
    rolled.customer_count,
    rolled.at_risk_customer_count,
    rolled.total_seniority_weight,
    rolled.lowest_customer_score,
    rolled.lowest_scoring_customer_id
from rolled
left join {{ source('identity', 'accounts') }} as accounts on rolled.account_id = accounts.account_id
