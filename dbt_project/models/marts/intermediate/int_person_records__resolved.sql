select
    records.record_id,
    clusters.customer_id,
    records.source,
    records.source_record_id,
    records.first_name,
    records.last_name,
    records.full_name,
    records.email,
    records.phone,
    records.company_name,
    records.title,
    records.country,
    records.crm_contact_id,
    records.observed_at,
    clusters.cluster_size,
    clusters.match_probability
from {{ ref('int_person_records') }} as records
inner join {{ source('identity', 'customer_clusters') }} as clusters
    on records.record_id = clusters.record_id
