-- The drivers shown to sales must add up to the score exactly: 50 + the long model's contributions.
with drivers as (
    select customer_id, 50 + sum(contribution) as score_from_drivers, count(*) as component_count
    from {{ ref('customer_health_drivers') }}
    group by customer_id
)

select health.customer_id, health.health_score, drivers.score_from_drivers, drivers.component_count
from {{ ref('customer_health') }} as health
left join drivers on health.customer_id = drivers.customer_id
where drivers.customer_id is null
    or drivers.component_count <> {{ health_components() | length }}
    or health.health_score <> drivers.score_from_drivers
