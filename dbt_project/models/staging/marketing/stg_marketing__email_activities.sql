with activities as (
    select
        -- The address exactly as exported: the ESP's recipient key and the identity record key.
        trim(cast(email as varchar)) as exported_email,
        {{ clean_email('email') }} as email,
        {{ clean_text('campaign_id') }} as campaign_id,
        {{ clean_text('campaign_name') }} as campaign_name,
        lower({{ clean_text('event') }}) as activity_type,
        cast(occurred_at as timestamp) as occurred_at,
        {{ clean_text('url') }} as url,
        lower({{ clean_text('bounce_type') }}) as bounce_type,
        cast(_source_file as varchar) as _source_file,
        cast(_source_line as integer) as _source_line,
        cast(_loaded_at as timestamp) as _loaded_at
    from {{ source('raw_marketing', 'email_activity') }}
)

select
    -- The export has no row id; a content hash is stable across reloads of the same export.
    md5(concat_ws('|', exported_email, campaign_id, activity_type, cast(occurred_at as varchar),
        coalesce(url, ''), coalesce(bounce_type, ''))) as email_activity_id,
    *,
    activity_type = 'bounce' and bounce_type = 'hard' as is_hard_bounce
from activities
-- An identical line exported twice is one activity.
qualify row_number() over (
    partition by exported_email, campaign_id, activity_type, occurred_at, url, bounce_type
    order by _loaded_at desc, _source_file, _source_line
) = 1
