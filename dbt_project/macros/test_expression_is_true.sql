{#
    Fails with every row for which `expression` (SQL over the model's columns) is not true:
    an invariant of a row stated as a test.
#}
{% test expression_is_true(model, expression) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)

{% endtest %}
