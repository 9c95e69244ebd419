-- A utm value the utm_value_aliases seed does not know is kept as sent; this warns so the
-- seed can map it (a new spelling of a known source, or a genuinely new one).
{{ config(severity='warn') }}

with

hourly as (
    select * from {{ ref('fct_hourly_metrics') }}
),

aliases as (
    select * from {{ ref('utm_value_aliases') }}
),

seen as (
    select distinct
        dimension,
        dimension_value,
    from hourly
    where dimension in ('utm_source', 'utm_medium')
),

final as (
    select seen.*,
    from seen
    anti join aliases
        on seen.dimension = aliases.dimension
        and seen.dimension_value = aliases.canonical_value
)

select * from final
