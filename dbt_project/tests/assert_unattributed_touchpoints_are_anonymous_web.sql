-- A touchpoint without a customer must be a web event of a visitor who never identified: its
-- anonymousId must be unknown to the identity stitching.
select touchpoints.touchpoint_id
from {{ ref('fct_touchpoints') }} as touchpoints
left join {{ ref('int_event_identities__stitched') }} as identities
    on identities.identifier_type = 'anonymous_id'
    and identities.identifier_value = touchpoints.anonymous_id
where touchpoints.customer_id is null
    and (touchpoints.channel <> 'web' or identities.event_identity_id is not null)
