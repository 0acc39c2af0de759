{#- Health score per customer, built from the long customer_health_drivers model:
    score = 50 + sum of the rounded contributions, tier from var thresholds, and the three
    components that moved the score most (ties broken in the order of health_components()). -#}

with drivers as (
    select * from {{ ref('customer_health_drivers') }}
),

ranked as (
    select
        *,
        -- Components that did not move the score are not drivers.
        case when contribution <> 0 then
            row_number() over (
                partition by customer_id
                order by abs(contribution) desc, component_order
            )
        end as driver_rank
    from drivers
),

scores as (
    select
        customer_id,
        any_value(as_of_date) as as_of_date,
        cast(50 + sum(contribution) as decimal(5, 1)) as health_score,
        {%- for component in health_components() %}
        max(component_value) filter (where component = '{{ component }}') as {{ component }}_value,
        {%- endfor %}
        {%- for component in health_components() %}
        max(contribution) filter (where component = '{{ component }}') as {{ component }}_contribution,
        {%- endfor %}
        {%- for rank in [1, 2, 3] %}
        max(component) filter (where driver_rank = {{ rank }}) as top_driver_{{ rank }},
        max(contribution) filter (where driver_rank = {{ rank }}) as top_driver_{{ rank }}_contribution,
        {%- endfor %}
        max(driver_label || ': ' || {{ signed_points('contribution') }}) filter (where driver_rank = 1)
            as top_driver_1_reason
    from ranked
    group by customer_id
)

select
    customer_id,
    as_of_date,
    health_score,
    case
        when health_score >= {{ var('health_tier_healthy_min') }} then 'healthy'
        when health_score >= {{ var('health_tier_watch_min') }} then 'watch'
        else 'at_risk'
    end as health_tier,
    {%- for component in health_components() %}
    {{ component }}_value,
    {%- endfor %}
    {%- for component in health_components() %}
    {{ component }}_contribution,
    {%- endfor %}
    {%- for rank in [1, 2, 3] %}
    top_driver_{{ rank }},
    top_driver_{{ rank }}_contribution,
    {%- endfor %}
    coalesce(top_driver_1_reason, 'No signal moves the score: neutral 50.0') as health_top_reason
from scores
