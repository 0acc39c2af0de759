{#- The reverse-sync feed: health written back onto CRM contacts. CRM duplicates of one person get
    the same customer's values. A contact that never resolved to a customer (no name, email or
    phone) has no health to write and is left out, so every row the sync sends is complete. -#}

select
    contacts.crm_contact_id,
    contacts.customer_id,
    health.health_score,
    health.health_tier,
    health.health_top_reason
from {{ ref('int_crm_contacts__resolved') }} as contacts
inner join {{ ref('customer_health') }} as health
    on contacts.customer_id = health.customer_id
