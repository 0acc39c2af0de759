{#- The consent in force per customer and purpose: later events supersede earlier ones; on a tie
    the withdrawal wins, since sending without consent is the costlier mistake. -#}

select
    records.customer_id || ':' || consent.purpose as customer_consent_id,
    records.customer_id,
    consent.purpose,
    consent.status,
    consent.is_granted,
    consent.recorded_at,
    consent.consent_source,
    consent.consent_event_id
from {{ ref('stg_consent__consent_events') }} as consent
inner join {{ ref('int_person_records__resolved') }} as records
    on records.source = 'consent'
    and records.source_record_id = consent.consent_event_id
qualify row_number() over (
    partition by records.customer_id, consent.purpose
    order by consent.recorded_at desc, consent.is_granted, consent.consent_event_id desc
) = 1
