-- Counted funnel events per shop, hour, metric and dimension value, for the hours that had
-- events, each value as counted (the long tail folded: int_funnel_events_folded).

-- Marketing dimensions describe how a visitor arrived: landing page views carry their own,
-- the other metrics their session's landing's (macros/funnel_dimensions.sql).
{% set event_dimensions = attributed_dimensions() %}
{% set landing_dimensions = landing_dimensions() %}

with

folded as (
    select * from {{ ref('int_funnel_events_folded') }}
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
