-- Every series hour against its expectation: deviation, score, anomaly flag and the
-- value's contribution to its total's deviation.
with

hourly as (
    select * from {{ ref('fct_hourly_metrics') }}
),

forecasts as (
    select * from {{ ref('fct_forecasts') }}
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
        forecasts.noise_autocorrelation,
        greatest(forecasts.score_threshold, {{ var('anomaly_min_score') }}) as score_threshold,
        forecasts.holiday,
        forecasts.is_holiday_expected,
        hourly.events - forecasts.expected as deviation,
        100.0 * (hourly.events - forecasts.expected) / nullif(forecasts.expected, 0)
            as pct_diff,
        -- The deviation in noise levels, on the scale where count noise is even.
        (
            (
                {{ variance_stabilized('hourly.events') }}
                - {{ variance_stabilized('forecasts.expected') }}
            )
            / forecasts.noise_scale
        ) as score,
        -- A shop's newest hour may still be receiving events when the data is exported.
        hourly.hour_at = max(hourly.hour_at) over (partition by hourly.shop)
            as is_hour_in_progress,
    from hourly
    inner join forecasts using (shop, hour_at, metric, dimension, dimension_value)
),

beyond_band as (
    select
        *,
        (
            not is_hour_in_progress
            and (actual < expected_lower or actual > expected_upper)
            and abs(deviation) >= {{ var('anomaly_min_deviation') }}
        ) as is_beyond_band,
        case
            when deviation > 0 then 'positive'
            when deviation < 0 then 'negative'
        end as direction,
    from compared
),

-- Runs of 2 and 3 consecutive hours beyond the band in one direction, by their last
-- hour: the run's combined score, null where there is no such run. The sum of the run's
-- scores over its spread (Stouffer's method, reading in noise levels like one hour's
-- score); errors that persist from hour to hour with lag-1 correlation r (AR(1)) give a
-- sum of 2 a variance of 2 + 2r and a sum of 3 one of 3 + 4r + 2r^2, so runs of a series
-- whose errors cling together count for less.
runs_ending_here as (
    select
        *,
        case
            when
                is_beyond_band
                and lag(is_beyond_band, 1) over series_hours
                and lag(direction, 1) over series_hours = direction
                and lag(hour_at, 1) over series_hours = hour_at - interval 1 hour
                then
                    (score + lag(score, 1) over series_hours)
                    / sqrt(2 + 2 * noise_autocorrelation)
        end as two_hour_run_score,
        case
            when
                is_beyond_band
                and lag(is_beyond_band, 1) over series_hours
                and lag(is_beyond_band, 2) over series_hours
                and lag(direction, 1) over series_hours = direction
                and lag(direction, 2) over series_hours = direction
                and lag(hour_at, 2) over series_hours = hour_at - interval 2 hour
                then
                    (score + lag(score, 1) over series_hours + lag(score, 2) over series_hours)
                    / sqrt(3 + 4 * noise_autocorrelation + 2 * noise_autocorrelation ^ 2)
        end as three_hour_run_score,
    from beyond_band
    window series_hours as (
        partition by shop, metric, dimension, dimension_value order by hour_at
    )
),

-- An hour's strongest run: of those that end at it, at the next hour or the one after.
runs_through_here as (
    select
        *,
        greatest(
            abs(two_hour_run_score),
            abs(lead(two_hour_run_score, 1) over series_hours),
            abs(three_hour_run_score),
            abs(lead(three_hour_run_score, 1) over series_hours),
            abs(lead(three_hour_run_score, 2) over series_hours)
        ) as run_score,
    from runs_ending_here
    window series_hours as (
        partition by shop, metric, dimension, dimension_value order by hour_at
    )
),

flagged as (
    select
        * exclude (two_hour_run_score, three_hour_run_score),
        is_beyond_band and greatest(abs(score), coalesce(run_score, 0)) >= score_threshold
            as is_anomaly,
    from runs_through_here
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
