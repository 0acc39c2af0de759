select
    cast(history_id as bigint) as crm_contact_history_id,
    cast(contact_id as bigint) as crm_contact_id,
    lower({{ clean_text('field') }}) as field_name,
    {{ clean_text('old_value') }} as old_value,
    {{ clean_text('new_value') }} as new_value,
    cast(changed_at as timestamp) as changed_at,
    cast(_loaded_at as timestamp) as _loaded_at
from {{ source('raw_crm', 'contact_history') }}
