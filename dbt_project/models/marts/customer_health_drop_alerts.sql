{#- Customers whose score on the as-of date is at least var health_drop_alert_points below their
    highest score in the var health_drop_alert_days days before it (from customer_health_history). -#}

with history as (
    select * from {{ ref('customer_health_history') }}
),

today as (
    select * from history where as_of_date = {{ as_of_date() }}
),

earlier as (
    select
        customer_id,
        max(health_score) as previous_max_score,
        -- The most recent day that reached the maximum, so the alert names when the fall began.
        max(as_of_date) filter (where health_score = previous_max) as previous_max_as_of_date
    from (
        select *, max(health_score) over (partition by customer_id) as previous_max
        from history
        where as_of_date >= {{ as_of_date() }} - interval {{ var('health_drop_alert_days') }} day
            and as_of_date < {{ as_of_date() }}
    )
    group by customer_id
)

select
    today.customer_id,
    today.as_of_date,
    today.health_score,
    today.health_tier,
    earlier.previous_max_score,
    cast(earlier.previous_max_as_of_date as date) as previous_max_as_of_date,
    cast(earlier.previous_max_score - today.health_score as decimal(5, 1)) as score_drop,
    today.health_top_reason
from today
inner join earlier on today.customer_id = earlier.customer_id
where earlier.previous_max_score - today.health_score >= {{ var('health_drop_alert_points') }}
