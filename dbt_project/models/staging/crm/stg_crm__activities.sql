select
    cast(activity_id as bigint) as crm_activity_id,
    cast(contact_id as bigint) as crm_contact_id,
    cast(account_id as bigint) as crm_account_id,
    cast(owner_user_id as bigint) as owner_crm_user_id,
    lower({{ clean_text('activity_type') }}) as activity_type,
    {{ clean_text('subject') }} as subject,
    cast(occurred_at as timestamp) as occurred_at,
    cast(duration_sec as integer) as duration_sec,
    cast(created_at as timestamp) as created_at,
    cast(updated_at as timestamp) as updated_at,
    cast(_loaded_at as timestamp) as _loaded_at
from {{ source('raw_crm', 'activities') }}
