-- Every hour of each shop's span, so that an hour without events becomes a zero downstream
-- instead of a missing row.
with

spans as (
    select * from {{ ref('int_shop_spans') }}
),

spined as (
    select
        shop,
        unnest(generate_series(first_hour_at, last_hour_at, interval 1 hour)) as hour_at,
    from spans
),

final as (
    select * from spined
)

select * from final
