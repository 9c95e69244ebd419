-- One row per anomalous hour of a shop's metric total, with its primary contributor (the
-- clear contributor with the most surprise, or none) and its top contributors.
with

anomalies as (
    select * from {{ ref('fct_anomalies') }}
),

contributors as (
    select * from {{ ref('int_anomaly_contributors_scored') }}
),

anomalous_totals as (
    select
        shop,
        hour_at,
        metric,
        direction,
        actual,
        expected,
        pct_diff,
        score,
        holiday,
        is_holiday_expected,
    from anomalies
    where dimension = 'total' and is_anomaly
),

primary_contributors as (
    select
        shop,
        hour_at,
        metric,
        arg_max(dimension, (surprise, explanatory_power)) as primary_dimension,
        arg_max(dimension_value, (surprise, explanatory_power)) as primary_value,
        arg_max(explanatory_power, (surprise, explanatory_power)) as primary_contribution,
    from contributors
    where is_clear_contributor
    group by all
),

-- The values that moved with the total, most surprising first, clear or not.
top_contributors as (
    select
        shop,
        hour_at,
        metric,
        list(
            {
                'dimension': dimension,
                'value': dimension_value,
                'contribution': round(explanatory_power, 4),
                'surprise': round(surprise, 5),
                'is_clear': is_clear_contributor
            }
            order by surprise desc, explanatory_power desc
        )[1:{{ var('contributors_listed') }}] as top_contributors,
    from contributors
    where explanatory_power > 0
    group by all
),

final as (
    select
        anomalous_totals.*,
        primary_contributors.primary_dimension,
        primary_contributors.primary_value,
        primary_contributors.primary_contribution,
        coalesce(top_contributors.top_contributors, []) as top_contributors,
    from anomalous_totals
    left join primary_contributors using (shop, hour_at, metric)
    left join top_contributors using (shop, hour_at, metric)
)

select * from final
