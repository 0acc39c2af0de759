select
    {{ clean_text('hubspot_id') }} as hubspot_contact_id,
    {{ clean_text('firstname') }} as first_name,
    {{ clean_text('lastname') }} as last_name,
    {{ clean_email('email') }} as email,
    {{ clean_text('phone') }} as phone,
    {{ clean_text('company') }} as company_name,
    {{ clean_text('jobtitle') }} as title,
    lower({{ clean_text('lifecyclestage') }}) as lifecycle_stage,
    -- HubSpot sends ISO 8601 with an offset (Z); convert to the warehouse's naive UTC.
    timezone('UTC', cast(created_at as timestamptz)) as created_at,
    timezone('UTC', cast(updated_at as timestamptz)) as updated_at
from {{ source('raw_hubspot', 'contacts') }}
