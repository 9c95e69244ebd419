-- The raw rows that are page views, with whether the pixel named them a landing page
-- view. Matching the names as sent (from the event profiles) lets DuckDB skip every other
-- row while it reads the Parquet.
with

events as (
    select * from {{ ref('stg_events') }}
),

event_profiles as (
    select * from {{ ref('int_event_profiles') }}
),

page_view_names as (
    select distinct
        event_name_sent,
        counted_as = 'explicit_landing' as is_explicit_landing,
    from event_profiles
    where counted_as in ('explicit_landing', 'session_first_page_view')
),

page_views as (
    select
        events.*,
        page_view_names.is_explicit_landing,
    from events
    inner join page_view_names on events.event_name = page_view_names.event_name_sent
),

final as (
    select * from page_views
)

select * from final
