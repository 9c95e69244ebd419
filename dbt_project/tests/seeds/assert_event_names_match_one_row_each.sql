-- Seed rows whose names match the same events (event_name_key): an event would count
-- once per row.
with

event_metrics as (
    select * from {{ ref('event_name_metrics') }}
),

keyed as (
    select
        {{ event_name_key('event_name') }} as event_name_key,
        list(event_name order by event_name) as event_names,
    from event_metrics
    group by all
    having count(*) > 1
),

final as (
    select * from keyed
)

select * from final
