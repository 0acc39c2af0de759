{#- Funnel conversion by channel under three attribution models. A customer has reached a stage when
    their current stage (customer_journey) is that stage or a later one; churned customers were
    customers, so they count as having reached every stage up to customer. Each customer carries one
    unit of credit: all of it to the first-touch channel, all to the last-touch channel, or split
    over their touchpoints' channels in proportion to the touches (linear). -#}

{%- set stages = ['visitor', 'lead', 'mql', 'sql', 'opportunity', 'customer'] %}

with journey as (
    select
        customer_id,
        first_touch_channel,
        last_touch_channel,
        case current_stage
        {%- for stage in stages %}
            when '{{ stage }}' then {{ loop.index }}
        {%- endfor %}
            when 'churned' then {{ stages | length }}
        end as stage_rank
    from {{ ref('customer_journey') }}
    where first_touch_channel is not null
),

linear as (
    select customer_id, channel, count(*) / sum(count(*)) over (partition by customer_id) as credit
    from {{ ref('fct_touchpoints') }}
    where customer_id is not null and occurred_at < {{ as_of_end() }}
    group by customer_id, channel
),

credits as (
    select 'first_touch' as attribution_model, first_touch_channel as channel, customer_id, 1.0 as credit
    from journey
    union all
    select 'last_touch', last_touch_channel, customer_id, 1.0
    from journey
    union all
    select 'linear', linear.channel, linear.customer_id, linear.credit
    from linear
    inner join journey on linear.customer_id = journey.customer_id
),

stages as (
    select * from (values
    {%- for stage in stages %}
        ('{{ stage }}', {{ loop.index }}){{ "," if not loop.last }}
    {%- endfor %}
    ) as s (stage, stage_rank)
)

select
    credits.attribution_model || ':' || credits.channel || ':' || stages.stage as funnel_conversion_id,
    credits.attribution_model,
    credits.channel,
    stages.stage,
    stages.stage_rank,
    cast(round(sum(credits.credit), 4) as decimal(18, 4)) as customers_credited,
    cast(round(sum(credits.credit) filter (where journey.stage_rank >= stages.stage_rank), 4) as decimal(18, 4))
        as reached_credited,
    cast(round(
        coalesce(sum(credits.credit) filter (where journey.stage_rank >= stages.stage_rank), 0)
        / sum(credits.credit), 4
    ) as decimal(9, 4)) as conversion_rate
from credits
inner join journey on credits.customer_id = journey.customer_id
cross join stages
group by credits.attribution_model, credits.channel, stages.stage, stages.stage_rank
