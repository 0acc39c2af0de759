{#- Maps Segment identifiers to customers so that every web event, also the anonymous page views
    before a visitor identified, can be attributed. Only identify calls link identifiers: an
    identify call is a person record, so identity resolution gave it a customer. -#}

with identify_calls as (
    select
        events.message_id,
        events.anonymous_id,
        events.user_id,
        events.occurred_at,
        records.customer_id
    from {{ ref('stg_marketing__events') }} as events
    left join {{ ref('int_person_records__resolved') }} as records
        on records.source = 'events'
        and records.source_record_id = events.message_id
    where events.message_type = 'identify'
),

user_ids as (
    -- When identify calls of one user resolve to different customers, the latest one wins.
    select
        'user_id' as identifier_type,
        user_id as identifier_value,
        first(customer_id order by occurred_at desc, message_id desc) as customer_id,
        count(*) as identify_call_count,
        count(distinct customer_id) as customer_count,
        min(occurred_at) as first_identified_at,
        max(occurred_at) as last_identified_at
    from identify_calls
    where user_id is not null
        and customer_id is not null
    group by user_id
),

anonymous_calls as (
    -- An identify call without usable traits is not a person record; it still ties its
    -- anonymousId to the customer its userId belongs to.
    select
        identify_calls.anonymous_id,
        identify_calls.occurred_at,
        identify_calls.message_id,
        coalesce(identify_calls.customer_id, user_ids.customer_id) as customer_id
    from identify_calls
    left join user_ids
        on identify_calls.user_id = user_ids.identifier_value
    where identify_calls.anonymous_id is not null
),

anonymous_ids as (
    select
        'anonymous_id' as identifier_type,
        anonymous_id as identifier_value,
        first(customer_id order by occurred_at desc, message_id desc) as customer_id,
        count(*) as identify_call_count,
        count(distinct customer_id) as customer_count,
        min(occurred_at) as first_identified_at,
        max(occurred_at) as last_identified_at
    from anonymous_calls
    where customer_id is not null
    group by anonymous_id
),

identities as (
    select * from user_ids
    union all
    select * from anonymous_ids
)

select
    identifier_type || ':' || identifier_value as event_identity_id,
    identifier_type,
    identifier_value,
    customer_id,
    identify_call_count,
    customer_count,
    first_identified_at,
    last_identified_at
from identities
