select
    {{ clean_text('consent_id') }} as consent_event_id,
    {{ clean_email('subject_email') }} as subject_email,
    {{ clean_text('subject_phone') }} as subject_phone,
    lower({{ clean_text('purpose') }}) as purpose,
    lower({{ clean_text('status') }}) as status,
    lower({{ clean_text('status') }}) = 'granted' as is_granted,
    cast(recorded_at as timestamp) as recorded_at,
    lower({{ clean_text('source') }}) as consent_source,
    cast(_source_file as varchar) as _source_file,
    cast(_source_line as integer) as _source_line,
    cast(_loaded_at as timestamp) as _loaded_at
from {{ source('raw_consent', 'consent_log') }}
