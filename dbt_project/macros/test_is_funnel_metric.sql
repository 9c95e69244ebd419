{#
    Fails with one row per value of the column that is not one of the funnel's metrics
    (the var funnel_metrics, their one list).
#}
{% test is_funnel_metric(model, column_name) %}

select {{ column_name }} as metric
from {{ model }}
where {{ column_name }} not in (
    {%- for metric in var('funnel_metrics') %}
    '{{ metric }}'{% if not loop.last %},{% endif %}
    {%- endfor %}
)

{% endtest %}
