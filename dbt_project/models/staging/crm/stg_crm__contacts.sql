select
    cast(contact_id as bigint) as crm_contact_id,
    cast(account_id as bigint) as crm_account_id,
    {{ clean_text('first_name') }} as first_name,
    {{ clean_text('last_name') }} as last_name,
    {{ clean_email('email') }} as email,
    {{ clean_text('phone') }} as phone,
    {{ clean_text('title') }} as title,
    upper({{ clean_text('region') }}) as region,
    cast(owner_user_id as bigint) as owner_crm_user_id,
    lower({{ clean_text('lifecycle_stage') }}) as lifecycle_stage,
    cast(created_at as timestamp) as created_at,
    cast(updated_at as timestamp) as updated_at,
    cast(_loaded_at as timestamp) as _loaded_at
from {{ source('raw_crm', 'contacts') }}
