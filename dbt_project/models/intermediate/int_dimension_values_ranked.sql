-- Every value of every dimension of a shop, ranked by its funnel events, and the value it
-- is counted as: itself when it is among the dimension_max_values largest and holds at
-- least dimension_min_share of the dimension's events, else dimension_other_value. Anyone
-- can craft links with new utm values; folding the long tail keeps the series, the
-- forecasts and the reports bounded whatever arrives.
{{ config(materialized='table') }}  -- joined once per dimension by the breakdown

{% set dimensions = funnel_dimensions() %}

with

segments as (
    select * from {{ ref('int_funnel_events_by_segment') }}
),

dimension_values as (
    {% for dimension in dimensions %}
        select
            shop,
            '{{ dimension }}' as dimension,
            {{ dimension }} as dimension_value,
            sum(events) as events,
        from segments
        where {{ dimension }} is not null
        group by all
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

ranked as (
    select
        *,
        row_number() over (
            partition by shop, dimension order by events desc, dimension_value asc
        ) as value_rank,
        events / sum(events) over (partition by shop, dimension) as share_of_events,
    from dimension_values
),

final as (
    select
        *,
        (
            value_rank > {{ var('dimension_max_values') }}
            or share_of_events < {{ var('dimension_min_share') }}
        ) as is_folded,
        case
            when
                value_rank > {{ var('dimension_max_values') }}
                or share_of_events < {{ var('dimension_min_share') }}
                then '{{ var("dimension_other_value") }}'
            else dimension_value
        end as counted_as_value,
    from ranked
)

select * from final
