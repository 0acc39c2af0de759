with tickets as (
    select
        {{ clean_text('ticket_id') }} as ticket_id,
        cast(created_at as timestamp) as created_at,
        cast(solved_at as timestamp) as solved_at,
        {{ clean_text('requester_name') }} as requester_name,
        {{ clean_email('requester_email') }} as requester_email,
        {{ clean_text('requester_phone') }} as requester_phone,
        {{ clean_text('subject') }} as subject,
        lower({{ clean_text('status') }}) as status,
        lower({{ clean_text('priority') }}) as priority,
        lower({{ clean_text('channel') }}) as channel,
        cast(csat_score as integer) as csat_score,
        coalesce(cast(is_escalated as boolean), false) as is_escalated,
        cast(_source_file as varchar) as _source_file,
        cast(_source_line as integer) as _source_line,
        cast(_loaded_at as timestamp) as _loaded_at
    from {{ source('raw_service', 'tickets') }}
)

select
    *,
    status in ('new', 'open', 'pending') as is_open
from tickets
