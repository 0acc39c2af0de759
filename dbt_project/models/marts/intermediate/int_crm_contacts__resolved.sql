select
    contacts.crm_contact_id,
    records.customer_id,
    contacts.crm_account_id,
    contacts.lifecycle_stage,
    contacts.created_at,
    contacts.updated_at
from {{ ref('stg_crm__contacts') }} as contacts
left join {{ ref('int_person_records__resolved') }} as records
    on records.source = 'crm_contacts'
    and records.crm_contact_id = contacts.crm_contact_id
