-- Events per shop, hour, metric and leaf: one combination of every dimension value the
-- metric has (device, geography and, for landing page views, utm source and medium; for
-- the other metrics, their session's landing's: session_utm_source and
-- session_utm_medium; null where a metric has no such dimension), as counted (the long
-- tail folded). Only the combinations that occurred in an hour are stored: what a
-- root-cause localizer searches.
with

folded as (
    select * from {{ ref('int_funnel_events_folded') }}
),

leaves as (
    select
        shop,
        hour_at,
        metric,
        device,
        geography,
        utm_source,
        utm_medium,
        session_utm_source,
        session_utm_medium,
        sum(events) as events,
    from folded
    group by all
),

final as (
    select * from leaves
)

select * from final
