-- Every series has exactly one row for each hour of its shop's span.
with

hourly as (
    select * from {{ ref('fct_hourly_metrics') }}
),

shop_hours as (
    select * from {{ ref('int_shop_hours_spined') }}
),

hours_per_shop as (
    select
        shop,
        count(*) as hours,
        min(hour_at) as first_hour_at,
        max(hour_at) as last_hour_at,
        datediff('hour', min(hour_at), max(hour_at)) + 1 as hours_spanned,
    from shop_hours
    group by shop
),

series as (
    select
        shop,
        metric,
        dimension,
        dimension_value,
        count(*) as hours,
        min(hour_at) as first_hour_at,
        max(hour_at) as last_hour_at,
    from hourly
    group by all
),

final as (
    select
        series.*,
        hours_per_shop.hours as shop_hours,
    from series
    inner join hours_per_shop using (shop)
    where
        series.hours != hours_per_shop.hours
        or series.first_hour_at != hours_per_shop.first_hour_at
        or series.last_hour_at != hours_per_shop.last_hour_at
        or hours_per_shop.hours != hours_per_shop.hours_spanned
)

select * from final
