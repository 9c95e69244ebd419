{#
    Sums broken down the way fct_hourly_metrics holds them: one grouping set for the total
    (dimension 'total', value 'all') and one per dimension column, whose name becomes
    `dimension` and whose value becomes `dimension_value`. The select list takes
    dimension_columns(), the GROUP BY takes dimension_grouping_sets() with the same
    dimensions.
#}

{% macro dimension_columns(dimensions) %}
    case
        {%- for dimension in dimensions %}
        when grouping({{ dimension }}) = 0 then '{{ dimension }}'
        {%- endfor %}
        else 'total'
    end as dimension,
    case dimension
        {%- for dimension in dimensions %}
        when '{{ dimension }}' then {{ dimension }}
        {%- endfor %}
        else 'all'
    end as dimension_value
{% endmacro %}

{% macro dimension_grouping_sets(keys, dimensions) %}
    grouping sets (
        ({{ keys | join(', ') }})
        {%- for dimension in dimensions %},
        ({{ keys | join(', ') }}, {{ dimension }})
        {%- endfor %}
    )
{% endmacro %}
