{#- Scoring rules of the health score, one row per customer and component.

    Each component is normalised to 0-1 (thresholds from vars), rounded to 4 decimals, and turned
    into points: contribution = round(100 * weight * (value - 0.5), 1). customer_health adds the
    rounded contributions to 50, so the drivers shown always add up to the score exactly. -#}

{%- set no_data = var('health_no_data_value') -%}
{%- set full_days = var('health_recency_full_days') -%}
{%- set zero_days = var('health_recency_zero_days') -%}
{%- set promoter_min = var('health_nps_promoter_min') -%}
{%- set passive_min = var('health_nps_passive_min') -%}
{%- set trend_full = var('health_nps_trend_full_change') -%}
{%- set safe_days = var('health_renewal_safe_days') -%}
{%- set urgent_days = var('health_renewal_urgent_days') %}

with signals as (
    select * from {{ ref('int_customer_health_signals__aggregated') }}
),

components as (
    select
        customer_id,
        as_of_date,
        'engagement_recency' as component,
        1 as component_order,
        case
            when days_since_last_engagement is null then {{ no_data }}
            when days_since_last_engagement <= {{ full_days }} then 1.0
            when days_since_last_engagement >= {{ zero_days }} then 0.0
            else ({{ zero_days }} - days_since_last_engagement) / ({{ zero_days }} - {{ full_days }})
        end as raw_value,
        case
            when days_since_last_engagement is null then 'No engagement recorded'
            when days_since_last_engagement = 1 then 'Last engaged 1 day ago'
            else 'Last engaged ' || days_since_last_engagement || ' days ago'
        end as driver_label
    from signals

    union all

    select
        customer_id,
        as_of_date,
        'email_engagement' as component,
        2 as component_order,
        case
            when is_email_suppressed then 0.0
            when email_campaigns_sent = 0 then {{ no_data }}
            else least(1.0, email_campaigns_engaged / email_campaigns_sent / {{ var('health_email_full_rate') }})
        end as raw_value,
        case
            when is_email_suppressed then 'Email unsubscribed or hard-bounced'
            when email_campaigns_sent = 0 then 'No recent marketing emails'
            else 'Engaged with ' || email_campaigns_engaged || ' of ' || email_campaigns_sent
                || ' email campaign' || case when email_campaigns_sent = 1 then '' else 's' end
        end as driver_label
    from signals

    union all

    select
        customer_id,
        as_of_date,
        'nps' as component,
        3 as component_order,
        case
            when latest_nps_score is null then {{ no_data }}
            when latest_nps_score >= {{ promoter_min }} then 1.0
            when latest_nps_score >= {{ passive_min }} then {{ var('health_nps_passive_value') }}
            else latest_nps_score / ({{ passive_min }} - 1) * {{ var('health_nps_detractor_max_value') }}
        end as raw_value,
        case
            when latest_nps_score is null then 'No NPS answer'
            when latest_nps_score >= {{ promoter_min }} then 'NPS promoter (score ' || latest_nps_score || ')'
            when latest_nps_score >= {{ passive_min }} then 'NPS passive (score ' || latest_nps_score || ')'
            else 'NPS detractor (score ' || latest_nps_score || ')'
        end as driver_label
    from signals

    union all

    select
        customer_id,
        as_of_date,
        'support' as component,
        4 as component_order,
        -- Satisfaction sets the level (neutral without ratings); open and escalated tickets pull it down.
        case
            when support_ticket_count = 0 then {{ no_data }}
            else greatest(0.0, least(1.0,
                coalesce((avg_csat_score - 1) / 4, {{ no_data }})
                - {{ var('health_support_open_ticket_penalty') }} * open_ticket_count
                - {{ var('health_support_escalation_penalty') }} * escalated_ticket_count
            ))
        end as raw_value,
        case
            when support_ticket_count = 0 then 'No recent support tickets'
            when escalated_ticket_count > 0 then escalated_ticket_count || ' escalated support ticket'
                || case when escalated_ticket_count = 1 then '' else 's' end
            when open_ticket_count > 0 then open_ticket_count || ' open support ticket'
                || case when open_ticket_count = 1 then '' else 's' end
            when avg_csat_score is not null then 'Support CSAT ' || cast(round(avg_csat_score, 1) as decimal(2, 1)) || '/5'
            else support_ticket_count || ' recent support ticket'
                || case when support_ticket_count = 1 then '' else 's' end
        end as driver_label
    from signals

    union all

    select
        customer_id,
        as_of_date,
        'buying_signals' as component,
        5 as component_order,
        -- No signal is no news (neutral); signals lift the value up to 1 at health_buying_full_count.
        case
            when buying_signal_count = 0 then {{ no_data }}
            else {{ no_data }} + (1 - {{ no_data }})
                * least(1.0, buying_signal_count / {{ var('health_buying_full_count') }})
        end as raw_value,
        case
            when buying_signal_count = 0 then 'No recent buying signals on the web'
            else buying_signal_count || ' web buying signal'
                || case when buying_signal_count = 1 then '' else 's' end
                || ' (pricing, demo, downloads)'
        end as driver_label
    from signals

    union all

    select
        customer_id,
        as_of_date,
        'account_team_contact' as component,
        6 as component_order,
        -- Only CRM customers have an account team; the target is touches per week over the window.
        case
            when not is_crm_customer then {{ no_data }}
            else least(1.0, account_team_touches / (
                {{ var('health_contact_target_per_week') }} * {{ var('health_contact_window_weeks') }}
            ))
        end as raw_value,
        case
            when not is_crm_customer then 'Not a CRM customer'
            else account_team_touches || ' account-team touch'
                || case when account_team_touches = 1 then '' else 'es' end
                || ' in ' || {{ var('health_contact_window_weeks') }} || ' weeks'
                -- The cadence warning of account_contact_cadence_alerts on their core account.
                || case contact_cadence_alert_rule
                    when 'below_weekly_minimum' then '; core account below {{ var("contact_cadence_min_per_week") }}'
                        || ' a week for {{ var("contact_cadence_streak_weeks") }} weeks'
                    when 'below_average_target' then '; core account below {{ var("health_contact_target_per_week") }}'
                        || ' a week on average'
                    else ''
                end
        end as driver_label
    from signals

    union all

    select
        customer_id,
        as_of_date,
        'nps_trend' as component,
        7 as component_order,
        -- Change from the previous answer to the latest: no change is neutral.
        case
            when latest_nps_score is null or previous_nps_score is null then {{ no_data }}
            else 0.5 + (latest_nps_score - previous_nps_score) / (2.0 * {{ trend_full }})
        end as raw_value,
        case
            when latest_nps_score is null or previous_nps_score is null then 'No earlier NPS answer to compare'
            when latest_nps_score = previous_nps_score then 'NPS unchanged at ' || latest_nps_score
            else 'NPS ' || case when latest_nps_score > previous_nps_score then 'up' else 'down' end
                || ' from ' || previous_nps_score || ' to ' || latest_nps_score
        end as driver_label
    from signals

    union all

    select
        customer_id,
        as_of_date,
        'renewal_proximity' as component,
        8 as component_order,
        -- Only pressure counts: a far-off (or no) contract end is neutral, an imminent or lapsed one 0.
        case
            when days_until_contract_end is null or days_until_contract_end >= {{ safe_days }} then {{ no_data }}
            when days_until_contract_end <= {{ urgent_days }} then 0.0
            else {{ no_data }} * (days_until_contract_end - {{ urgent_days }}) / ({{ safe_days }} - {{ urgent_days }})
        end as raw_value,
        case
            when days_until_contract_end is null then 'No contract on record'
            when days_until_contract_end < 0 then 'Contract ended ' || -days_until_contract_end || ' days ago, not renewed'
            when days_until_contract_end = 1 then 'Contract ends in 1 day'
            else 'Contract ends in ' || days_until_contract_end || ' days'
        end as driver_label
    from signals

    union all

    select
        customer_id,
        as_of_date,
        'overdue_tickets' as component,
        9 as component_order,
        greatest(0.0, {{ no_data }}
            - {{ var('health_overdue_ticket_penalty') }} * coalesce(overdue_ticket_count, 0)
            - {{ var('health_open_escalation_penalty') }} * coalesce(open_escalated_ticket_count, 0)
        ) as raw_value,
        case
            when coalesce(overdue_ticket_count, 0) = 0 and coalesce(open_escalated_ticket_count, 0) = 0
                then 'No overdue or escalated open tickets'
            else concat_ws(', ',
                case when overdue_ticket_count > 0 then overdue_ticket_count || ' overdue ticket'
                    || case when overdue_ticket_count = 1 then '' else 's' end end,
                case when open_escalated_ticket_count > 0 then open_escalated_ticket_count || ' escalated open ticket'
                    || case when open_escalated_ticket_count = 1 then '' else 's' end end
            )
        end as driver_label
    from signals

    union all

    select
        customer_id,
        as_of_date,
        'stalled_opportunities' as component,
        10 as component_order,
        -- Share of their open deals still moving: all moving -> 1, all stalled -> 0, no open deal -> neutral.
        case
            when coalesce(open_opportunity_count, 0) = 0 then {{ no_data }}
            else 1.0 - stalled_opportunity_count / open_opportunity_count
        end as raw_value,
        case
            when coalesce(open_opportunity_count, 0) = 0 then 'No open deals'
            else stalled_opportunity_count || ' of ' || open_opportunity_count || ' open deal'
                || case when open_opportunity_count = 1 then '' else 's' end || ' stalled'
        end as driver_label
    from signals

    union all

    select
        customer_id,
        as_of_date,
        'key_contact_change' as component,
        11 as component_order,
        case
            when last_hard_bounce_at is not null then {{ var('health_key_contact_bounce_value') }}
            when last_role_change_at is not null then {{ var('health_key_contact_role_change_value') }}
            else {{ no_data }}
        end as raw_value,
        case
            when last_hard_bounce_at is not null then 'Email address hard-bounced recently'
            when last_role_change_at is not null then 'Title or company changed recently'
            else 'No recent contact changes'
        end as driver_label
    from signals

    union all

    select
        customer_id,
        as_of_date,
        'engagement_frequency' as component,
        12 as component_order,
        -- Engagements on any channel in the look-back window against a target count; never engaged -> neutral.
        case
            when days_since_last_engagement is null then {{ no_data }}
            else least(1.0, coalesce(recent_engagement_count, 0) / {{ var('health_frequency_full_count') }})
        end as raw_value,
        case
            when days_since_last_engagement is null then 'No engagement recorded'
            else coalesce(recent_engagement_count, 0) || ' engagement'
                || case when recent_engagement_count = 1 then '' else 's' end
                || ' in ' || {{ var('health_frequency_lookback_days') }} || ' days'
        end as driver_label
    from signals
),

valued as (
    select
        *,
        cast(round(greatest(0.0, least(1.0, raw_value)), 4) as decimal(5, 4)) as component_value,
        case component
        {%- for component in health_components() %}
            when '{{ component }}' then {{ health_weight(component) }}
        {%- endfor %}
        end as weight
    from components
)

select
    customer_id || ':' || component as customer_health_driver_id,
    customer_id,
    as_of_date,
    component,
    component_order,
    component_value,
    weight,
    -- Via a 6-decimal value first, so binary float noise cannot flip a .x5 rounding.
    cast(round(cast(100 * weight * (component_value - 0.5) as decimal(18, 6)), 1) as decimal(5, 1))
        as contribution,
    driver_label
from valued
