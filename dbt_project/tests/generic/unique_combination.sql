{#- Fails for every combination of the given columns that occurs more than once: the primary-key
    test for models keyed by several columns (a hub-free dbt_utils stand-in). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as row_count
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
