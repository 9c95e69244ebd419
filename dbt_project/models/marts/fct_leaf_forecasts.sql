-- Every leaf's hours with what the leaf stands for. The forecasting step keeps the many
-- hours as numbers and each leaf's text once; a view joins them where they are read.
{{ config(materialized='view') }}

-- depends_on: {{ ref('forecasting_step') }}
with

leaves as (
    select * from {{ source('forecasting', 'leaf_forecast_leaves') }}
),

leaf_hours as (
    select * from {{ source('forecasting', 'leaf_forecast_hours') }}
),

final as (
    select
        leaves.shop,
        leaf_hours.hour_at,
        leaves.metric,
        leaves.device,
        leaves.geography,
        leaves.utm_source,
        leaves.utm_medium,
        leaves.session_utm_source,
        leaves.session_utm_medium,
        leaf_hours.events,
        leaf_hours.expected,
        leaves.noise_dispersion,
        leaves.noise_relative,
    from leaf_hours
    inner join leaves using (series_id, leaf)
)

select * from final
