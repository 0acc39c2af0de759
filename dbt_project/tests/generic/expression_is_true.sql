{#- Fails for every row where the SQL expression is not true (a hub-free dbt_utils stand-in).
    Attached to a model or to a column; the expression may use any column of the model. -#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}
