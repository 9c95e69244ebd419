-- The series' forecasts as the forecasting step wrote them: a view, so that their tests
-- (in _forecasting__models.yml) run after the step, which a source's would not.
{{ config(materialized='view') }}

-- depends_on: {{ ref('forecasting_step') }}
select * from {{ source('forecasting', 'series_forecast_hours') }}
