-- Counted funnel events per shop, hour, metric and dimension value, for the hours that had
-- events, each value as counted (the long tail folded, int_dimension_values_ranked).

{% set event_dimensions = ['geography', 'device'] %}
-- Marketing dimensions describe how a visitor arrived: only landing page views carry them.
{% set landing_dimensions = event_dimensions + ['utm_source', 'utm_medium'] %}

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
        {% for dimension in landing_dimensions %}
            {{ dimension }}_values.counted_as_value as {{ dimension }},
        {% endfor %}
        segments.events,
    from segments
    {% for dimension in landing_dimensions %}
        left join dimension_values as {{ dimension }}_values
            on segments.shop = {{ dimension }}_values.shop
            and {{ dimension }}_values.dimension = '{{ dimension }}'
            and segments.{{ dimension }} = {{ dimension }}_values.dimension_value
    {% endfor %}
),

other_funnel_events_by_dimension as (
    select
        shop,
        hour_at,
        metric,
        {{ dimension_columns(event_dimensions) }},
        sum(events) as events,
    from folded
    where metric != 'landing_page_views'
    -- sqlfluff's duckdb dialect cannot parse grouping sets.
    -- noqa: disable=PRS
    group by {{ dimension_grouping_sets(['shop', 'hour_at', 'metric'], event_dimensions) }}
    -- noqa: enable=PRS
),

landing_page_views_by_dimension as (
    select
        shop,
        hour_at,
        metric,
        {{ dimension_columns(landing_dimensions) }},
        sum(events) as events,
    from folded
    where metric = 'landing_page_views'
    -- sqlfluff's duckdb dialect cannot parse grouping sets.
    -- noqa: disable=PRS
    group by {{ dimension_grouping_sets(['shop', 'hour_at', 'metric'], landing_dimensions) }}
    -- noqa: enable=PRS
),

final as (
    select * from landing_page_views_by_dimension
    union all
    select * from other_funnel_events_by_dimension
)

select * from final
