-- Every dimension value of every anomalous total hour, scored as a possible cause:
-- explanatory power (its share of the deviation), surprise (how far its share of the
-- actual events moved from its share of the expected ones, a Jensen-Shannon term as in
-- Adtributor, NSDI 2014) and disproportion (how many of its own noise levels it is from
-- moving in step with the total, so that a shift of share at low counts is not mistaken
-- for a cause). Only a value that is all three is a clear contributor.
with

anomalies as (
    select * from {{ ref('fct_anomalies') }}
),

anomalous_totals as (
    select
        shop,
        hour_at,
        metric,
        actual as total_actual,
        expected as total_expected,
        actual / nullif(expected, 0) as total_ratio,
    from anomalies
    where dimension = 'total' and is_anomaly
),

shares as (
    select
        anomalies.shop,
        anomalies.hour_at,
        anomalies.metric,
        anomalies.dimension,
        anomalies.dimension_value,
        anomalies.contribution as explanatory_power,
        coalesce(anomalies.expected / nullif(anomalous_totals.total_expected, 0), 0)
            as expected_share,
        coalesce(anomalies.actual / nullif(anomalous_totals.total_actual, 0), 0)
            as actual_share,
        -- Noise levels between the value's count and its expectation scaled like the total.
        (
            {{ variance_stabilized('anomalies.actual') }}
            - {{ variance_stabilized(
                'anomalies.expected * coalesce(anomalous_totals.total_ratio, 1)'
            ) }}
        ) / anomalies.noise_scale as disproportion,
    from anomalies
    inner join anomalous_totals using (shop, hour_at, metric)
    where anomalies.dimension != 'total'
),

scored as (
    select
        *,
        -- 0 * ln(0) is taken as 0.
        0.5 * (
            case
                when expected_share > 0
                    then
                        expected_share
                        * ln(2 * expected_share / (expected_share + actual_share))
                else 0
            end
            + case
                when actual_share > 0
                    then actual_share * ln(2 * actual_share / (expected_share + actual_share))
                else 0
            end
        ) as surprise,
    from shares
),

final as (
    select
        *,
        (
            explanatory_power >= {{ var('contributor_min_explanatory_power') }}
            and surprise >= {{ var('contributor_min_surprise') }}
            and abs(disproportion) >= {{ var('contributor_min_disproportion') }}
        ) as is_clear_contributor,
    from scored
)

select * from final
