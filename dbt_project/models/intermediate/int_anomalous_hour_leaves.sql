-- The leaves of every anomalous total hour, each with its count and expectation (zero
-- events where the combination did not occur that hour): what the localizer reads.
with

anomalies as (
    select * from {{ ref('fct_anomalies') }}
),

leaf_forecasts as (
    select * from {{ ref('fct_leaf_forecasts') }}
),

anomalous_totals as (
    select
        shop,
        hour_at,
        metric,
    from anomalies
    where dimension = 'total' and is_anomaly
),

final as (
    select
        leaf_forecasts.shop,
        leaf_forecasts.hour_at,
        leaf_forecasts.metric,
        leaf_forecasts.device,
        leaf_forecasts.geography,
        leaf_forecasts.utm_source,
        leaf_forecasts.utm_medium,
        leaf_forecasts.session_utm_source,
        leaf_forecasts.session_utm_medium,
        leaf_forecasts.events,
        leaf_forecasts.expected,
        leaf_forecasts.noise_dispersion,
        leaf_forecasts.noise_relative,
    from leaf_forecasts
    inner join anomalous_totals using (shop, hour_at, metric)
)

select * from final
