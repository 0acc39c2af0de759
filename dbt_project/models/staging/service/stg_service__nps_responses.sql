with responses as (
    select
        {{ clean_text('response_id') }} as nps_response_id,
        cast(responded_at as timestamp) as responded_at,
        {{ clean_email('email') }} as email,
        cast(score as integer) as nps_score,
        {{ clean_text('comment') }} as comment,
        {{ clean_text('survey_name') }} as survey_name,
        cast(_source_file as varchar) as _source_file,
        cast(_source_line as integer) as _source_line,
        cast(_loaded_at as timestamp) as _loaded_at
    from {{ source('raw_service', 'nps_responses') }}
)

select
    *,
    -- Standard NPS bands (fixed by the NPS method, unlike the health-score thresholds).
    case
        when nps_score >= 9 then 'promoter'
        when nps_score >= 7 then 'passive'
        else 'detractor'
    end as nps_category
from responses
