-- Counted funnel events per shop, hour, metric and segment with each dimension value as
-- counted: itself, or the value of the long tail it folds into (int_dimension_values_ranked).
{% set dimensions = funnel_dimensions() %}

with

segments as (
    select * from {{ ref('int_funnel_events_by_segment') }}
),

dimension_values as (
    select * from {{ ref('int_dimension_values_ranked') }}
),

folded as (
    select
        segments.shop,
        segments.hour_at,
        segments.metric,
        {% for dimension in dimensions %}
            {{ dimension }}_values.counted_as_value as {{ dimension }},
        {% endfor %}
        segments.events,
    from segments
    {% for dimension in dimensions %}
        left join dimension_values as {{ dimension }}_values
            on segments.shop = {{ dimension }}_values.shop
            and {{ dimension }}_values.dimension = '{{ dimension }}'
            and segments.{{ dimension }} = {{ dimension }}_values.dimension_value
    {% endfor %}
),

final as (
    select * from folded
)

select * from final
