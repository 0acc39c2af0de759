select
    cast(user_id as bigint) as crm_user_id,
    {{ clean_text('full_name') }} as full_name,
    {{ clean_email('email') }} as email,
    lower({{ clean_text('team') }}) as team,
    cast(created_at as timestamp) as created_at,
    cast(updated_at as timestamp) as updated_at,
    cast(_loaded_at as timestamp) as _loaded_at
from {{ source('raw_crm', 'users') }}
