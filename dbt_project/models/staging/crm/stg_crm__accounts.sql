select
    cast(account_id as bigint) as crm_account_id,
    {{ clean_text('name') }} as account_name,
    lower({{ clean_text('domain') }}) as domain,
    {{ clean_text('industry') }} as industry,
    upper({{ clean_text('region') }}) as region,
    upper({{ clean_text('country') }}) as country_code,
    cast(owner_user_id as bigint) as owner_crm_user_id,
    cast(created_at as timestamp) as created_at,
    cast(updated_at as timestamp) as updated_at,
    cast(_loaded_at as timestamp) as _loaded_at
from {{ source('raw_crm', 'accounts') }}
