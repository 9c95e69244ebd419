-- The values' expectations of a dimension add up to the total's (to 0.1%): the shares are
-- coherent, so contributions to a deviation add up to one.
with

forecasts as (
    select * from {{ ref('fct_forecasts') }}
),

totals as (
    select
        shop,
        hour_at,
        metric,
        expected as total_expected,
    from forecasts
    where dimension = 'total'
),

by_dimension as (
    select
        shop,
        hour_at,
        metric,
        dimension,
        sum(expected) as values_expected,
    from forecasts
    where dimension != 'total'
    group by all
),

final as (
    select
        by_dimension.*,
        totals.total_expected,
    from by_dimension
    inner join totals using (shop, hour_at, metric)
    where
        abs(by_dimension.values_expected - totals.total_expected)
        > 0.001 * totals.total_expected + 1e-6
)

select * from final
