select
    {{ clean_text('hubspot_id') }} as hubspot_company_id,
    {{ clean_text('name') }} as company_name,
    lower({{ clean_text('domain') }}) as domain,
    {{ clean_text('industry') }} as industry,
    try_cast({{ clean_text('numberofemployees') }} as integer) as employee_count,
    -- HubSpot sends ISO 8601 with an offset (Z); convert to the warehouse's naive UTC.
    timezone('UTC', cast(created_at as timestamptz)) as created_at,
    timezone('UTC', cast(updated_at as timestamptz)) as updated_at
from {{ source('raw_hubspot', 'companies') }}
