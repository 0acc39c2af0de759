{#- Core CRM accounts the account team is not talking to often enough, counted in full Monday-Sunday
    weeks before the as-of date. Two rules, both from vars: the average over the last
    health_contact_window_weeks weeks is below health_contact_target_per_week, or every one of the last
    contact_cadence_streak_weeks weeks is below contact_cadence_min_per_week. is_new: neither rule fired
    on the same weeks shifted one week back (the Dagster check warns about new alerts only). -#}

{%- set window_weeks = var('health_contact_window_weeks') | int -%}
{%- set streak_weeks = var('contact_cadence_streak_weeks') | int -%}
{%- set weeks = [window_weeks, streak_weeks] | max -%}
{%- set target = var('health_contact_target_per_week') -%}
{%- set weekly_min = var('contact_cadence_min_per_week') %}

with bounds as (
    -- The last full week ends on the as-of date when that is a Sunday, else on the Sunday before it;
    -- weeks_end is the exclusive end (the Monday after it).
    select cast(date_trunc('week', {{ as_of_date() }} + 1) as date) as weeks_end
),

running_contracts as (
    -- Current customers: won deals closed by the as-of date whose contract has not ended (no renewal
    -- date means no end), valued at the sum of those deals' amounts.
    select crm_account_id, sum(coalesce(amount, 0)) as contract_value
    from {{ ref('stg_crm__opportunities') }}
    where is_won
        and coalesce(close_date, cast(stage_entered_at as date)) <= {{ as_of_date() }}
        and coalesce(contract_renewal_date >= {{ as_of_date() }}, true)
    group by crm_account_id
),

ranked as (
    select
        *,
        row_number() over (order by contract_value desc, crm_account_id) as value_rank,
        count(*) over () as customer_accounts
    from running_contracts
),

core_accounts as (
    -- The top contact_cadence_core_share of current customers by contract value (at least one).
    select crm_account_id, contract_value
    from ranked
    where value_rank <= greatest(1, round(customer_accounts * {{ var('contact_cadence_core_share') }}))
),

touches as (
    -- Calls, meetings and emails (var contact_cadence_activity_types) logged by account-team users
    -- (var contact_cadence_account_teams) on the account, up to the end of the as-of date.
    select activities.crm_account_id, activities.occurred_at
    from {{ ref('stg_crm__activities') }} as activities
    inner join {{ ref('stg_crm__users') }} as users
        on activities.owner_crm_user_id = users.crm_user_id
    where activities.activity_type in ('{{ var("contact_cadence_activity_types") | join("', '") }}')
        and users.team in ('{{ var("contact_cadence_account_teams") | join("', '") }}')
        and activities.occurred_at < {{ as_of_end() }}
),

weekly as (
    -- One week more than the rules need, so the previous week's verdict can be computed as well.
    select
        core_accounts.crm_account_id,
        core_accounts.contract_value,
        max(touches.occurred_at) as last_touch_at,
        {%- for week in range(1, weeks + 2) %}
        count(touches.occurred_at) filter (
            where touches.occurred_at >= bounds.weeks_end - interval {{ 7 * week }} day
                and touches.occurred_at < bounds.weeks_end - interval {{ 7 * (week - 1) }} day
        ) as touches_week_{{ week }}{{ ',' if not loop.last }}
        {%- endfor %}
    from core_accounts
    cross join bounds
    left join touches on core_accounts.crm_account_id = touches.crm_account_id
    group by core_accounts.crm_account_id, core_accounts.contract_value
),

rules as (
    -- Each rule on the last full weeks (offset 0) and on the weeks one earlier (offset 1).
    select
        *,
        {%- for offset in [0, 1] %}
        ({% for week in range(1 + offset, window_weeks + 1 + offset) %}touches_week_{{ week }}{{ ' + ' if not loop.last }}{% endfor %})
            as window_touches_{{ offset }},
        greatest({% for week in range(1 + offset, streak_weeks + 1 + offset) %}touches_week_{{ week }}{{ ', ' if not loop.last }}{% endfor %})
            < {{ weekly_min }} as is_below_weekly_minimum_{{ offset }}{{ ',' if not loop.last }}
        {%- endfor %}
    from weekly
),

verdicts as (
    select
        *,
        window_touches_0 / {{ window_weeks }} < {{ target }} as is_below_average_target,
        is_below_weekly_minimum_0 as is_below_weekly_minimum,
        -- New this week: neither rule fired on the weeks one earlier.
        not (window_touches_1 / {{ window_weeks }} < {{ target }} or is_below_weekly_minimum_1) as is_new
    from rules
)

select
    verdicts.crm_account_id,
    accounts.account_name,
    accounts.owner_crm_user_id,
    owners.full_name as owner_name,
    verdicts.contract_value,
    {{ as_of_date() }} as as_of_date,
    cast(bounds.weeks_end - interval {{ 7 * weeks }} day as date) as first_week_start,
    cast(bounds.weeks_end - interval 1 day as date) as last_week_end,
    {%- for week in range(1, weeks + 1) %}
    verdicts.touches_week_{{ week }},
    {%- endfor %}
    verdicts.window_touches_0 as window_touches,
    cast(round(verdicts.window_touches_0 / {{ window_weeks }}, 2) as decimal(6, 2)) as avg_touches_per_week,
    verdicts.last_touch_at,
    verdicts.is_below_average_target,
    verdicts.is_below_weekly_minimum,
    -- The stricter rule names the alert when both fire.
    case when verdicts.is_below_weekly_minimum then 'below_weekly_minimum' else 'below_average_target' end
        as alert_rule,
    verdicts.is_new
from verdicts
cross join bounds
left join {{ ref('stg_crm__accounts') }} as accounts
    on verdicts.crm_account_id = accounts.crm_account_id
left join {{ ref('stg_crm__users') }} as owners
    on accounts.owner_crm_user_id = owners.crm_user_id
where verdicts.is_below_average_target or verdicts.is_below_weekly_minimum
