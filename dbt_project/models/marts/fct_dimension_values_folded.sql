-- Per shop and dimension, how many values were folded into one (the long tail beyond
-- dimension_max_values, or under dimension_min_share) and the funnel events they carried,
-- with the largest of them: a campaign that should be a series of its own shows here.
with

dimension_values as (
    select * from {{ ref('int_dimension_values_ranked') }}
),

folded as (
    select
        shop,
        dimension,
        count(*) as values_folded,
        sum(events) as events_folded,
        list(dimension_value order by events desc, dimension_value asc)[1:5] as largest_values,
    from dimension_values
    where is_folded
    group by all
),

final as (
    select * from folded
)

select * from final
