{#- How long customers take from one lifecycle stage to the next, by how they first came in: the
    channel of their first touchpoint and the campaign (utm_campaign) of their first touchpoint that
    carries one. Built on customer_lifecycle_stages; only completed stages (with an exit) count. -#}

with transitions as (
    select customer_id, stage as from_stage, stage_rank as from_stage_rank, next_stage as to_stage, days_in_stage
    from {{ ref('customer_lifecycle_stages') }}
    where not is_current
),

first_campaigns as (
    select customer_id, first(utm_campaign order by occurred_at, touchpoint_id) as first_touch_campaign
    from {{ ref('fct_touchpoints') }}
    where customer_id is not null
        and utm_campaign is not null
        and occurred_at < {{ as_of_end() }}
    group by customer_id
),

origins as (
    select
        journey.customer_id,
        coalesce(journey.first_touch_channel, '(none)') as first_touch_channel,
        coalesce(first_campaigns.first_touch_campaign, '(none)') as first_touch_campaign
    from {{ ref('customer_journey') }} as journey
    left join first_campaigns on journey.customer_id = first_campaigns.customer_id
),

by_dimension as (
    select 'first_touch_channel' as dimension, origins.first_touch_channel as dimension_value, transitions.*
    from transitions
    inner join origins on transitions.customer_id = origins.customer_id
    union all
    select 'first_touch_campaign', origins.first_touch_campaign, transitions.*
    from transitions
    inner join origins on transitions.customer_id = origins.customer_id
)

select
    dimension || ':' || dimension_value || ':' || from_stage || '->' || to_stage as funnel_stage_duration_id,
    dimension,
    dimension_value,
    from_stage,
    from_stage_rank,
    to_stage,
    count(*) as customers,
    cast(median(days_in_stage) as decimal(9, 1)) as median_days,
    cast(round(avg(days_in_stage), 1) as decimal(9, 1)) as avg_days,
    max(days_in_stage) as max_days
from by_dimension
group by dimension, dimension_value, from_stage, from_stage_rank, to_stage
