{#
    Fails with one row per combination of `columns` that occurs more than once: the grain
    of a table stated as a test.
#}
{% test unique_combination_of_columns(model, columns) %}

with

counted as (
    select
        {{ columns | join(', ') }},
        count(*) as occurrences,
    from {{ model }}
    group by all
),

final as (
    select * from counted
    where occurrences > 1
)

select * from final

{% endtest %}
