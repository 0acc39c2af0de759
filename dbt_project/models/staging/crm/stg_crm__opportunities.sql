with opportunities as (
    select
        cast(opportunity_id as bigint) as crm_opportunity_id,
        cast(account_id as bigint) as crm_account_id,
        cast(primary_contact_id as bigint) as primary_crm_contact_id,
        {{ clean_text('name') }} as opportunity_name,
        lower({{ clean_text('stage') }}) as stage,
        cast(amount as double) as amount,
        cast(stage_entered_at as timestamp) as stage_entered_at,
        cast(close_date as date) as close_date,
        cast(contract_renewal_date as date) as contract_renewal_date,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(_loaded_at as timestamp) as _loaded_at
    from {{ source('raw_crm', 'opportunities') }}
)

select
    *,
    stage in ('closed_won', 'closed_lost') as is_closed,
    stage = 'closed_won' as is_won
from opportunities
