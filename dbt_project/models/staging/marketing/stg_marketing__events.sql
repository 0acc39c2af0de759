with events as (
    select
        {{ clean_text('message_id') }} as message_id,
        lower({{ clean_text('type') }}) as message_type,
        {{ clean_text('event_name') }} as event_name,
        {{ clean_text('page_name') }} as page_name,
        {{ clean_text('anonymous_id') }} as anonymous_id,
        {{ clean_text('user_id') }} as user_id,
        cast(occurred_at as timestamp) as occurred_at,
        {{ clean_email('traits_email') }} as traits_email,
        {{ clean_text('traits_first_name') }} as traits_first_name,
        {{ clean_text('traits_last_name') }} as traits_last_name,
        {{ clean_text('traits_phone') }} as traits_phone,
        {{ clean_text('traits_company') }} as traits_company,
        {{ clean_text('traits_title') }} as traits_title,
        {{ clean_text('properties') }} as properties,
        {{ clean_text('context_ip') }} as context_ip,
        {{ clean_text('context_user_agent') }} as context_user_agent,
        {{ clean_text('context_locale') }} as context_locale,
        -- UTM values are carried exactly as tracked: attribution reports group by them verbatim.
        cast(utm_source as varchar) as utm_source,
        cast(utm_medium as varchar) as utm_medium,
        cast(utm_campaign as varchar) as utm_campaign,
        cast(utm_term as varchar) as utm_term,
        cast(utm_content as varchar) as utm_content,
        {{ clean_text('page_url') }} as page_url,
        {{ clean_text('page_path') }} as page_path,
        {{ clean_text('page_title') }} as page_title,
        {{ clean_text('page_referrer') }} as page_referrer,
        cast(_source_file as varchar) as _source_file,
        cast(_source_line as integer) as _source_line,
        cast(_loaded_at as timestamp) as _loaded_at
    from {{ source('raw_marketing', 'events') }}
)

select
    *,
    -- Track event names as a stable snake_case type: "Demo Requested" -> demo_requested.
    case when message_type = 'track'
        then trim(regexp_replace(lower(event_name), '[^a-z0-9]+', '_', 'g'), '_')
    end as event_type
from events
-- Segment delivers at least once: the same messageId can arrive twice (also across files).
qualify row_number() over (
    partition by message_id order by _loaded_at desc, _source_file, _source_line
) = 1
