-- Every series hour against its expectation: deviation, score, anomaly flag and the
-- value's contribution to its total's deviation.
with

hourly as (
    select * from {{ ref('fct_hourly_metrics') }}
),

forecasts as (
    select * from {{ source('forecasting', 'fct_forecasts') }}
),

compared as (
    select
        hourly.shop,
        hourly.hour_at,
        hourly.metric,
        hourly.dimension,
        hourly.dimension_value,
        hourly.events as actual,
        forecasts.expected,
        forecasts.expected_lower,
        forecasts.expected_upper,
        forecasts.noise_scale,
        greatest(forecasts.score_threshold, {{ var('anomaly_min_score') }}) as score_threshold,
        forecasts.holiday,
        forecasts.is_holiday_expected,
        hourly.events - forecasts.expected as deviation,
        100.0 * (hourly.events - forecasts.expected) / nullif(forecasts.expected, 0)
            as pct_diff,
        -- The deviation in noise levels, on the scale where count noise is even.
        (
            (sqrt(hourly.events + 0.375) - sqrt(forecasts.expected + 0.375))
            / forecasts.noise_scale
        ) as score,
        -- A shop's newest hour may still be receiving events when the data is exported.
        hourly.hour_at = max(hourly.hour_at) over (partition by hourly.shop)
            as is_hour_in_progress,
    from hourly
    inner join forecasts using (shop, hour_at, metric, dimension, dimension_value)
),

flagged as (
    select
        *,
        (
            not is_hour_in_progress
            and (actual < expected_lower or actual > expected_upper)
            and abs(score) >= score_threshold
            and abs(deviation) >= {{ var('anomaly_min_deviation') }}
        ) as is_anomaly,
        case
            when deviation > 0 then 'positive'
            when deviation < 0 then 'negative'
        end as direction,
    from compared
),

totals as (
    select
        shop,
        hour_at,
        metric,
        deviation as total_deviation,
    from flagged
    where dimension = 'total'
),

with_contribution as (
    select
        flagged.*,
        -- The value's share of the total's deviation; the values' expectations add up to
        -- the total's, so within a dimension the contributions add up to one.
        case
            when flagged.dimension = 'total' then 1.0
            else flagged.deviation / nullif(totals.total_deviation, 0)
        end as contribution,
    from flagged
    inner join totals using (shop, hour_at, metric)
),

final as (
    select * from with_contribution
)

select * from final
