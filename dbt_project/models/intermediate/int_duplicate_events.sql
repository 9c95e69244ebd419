-- Raw rows that arrived more than once (pixels double-fire), with how many copies came.
-- Only these few rows are stored: downstream counts subtract their extra copies instead of
-- deduplicating every event, which would hold every event in a hash table.
{% set all_columns %}
    shop, event_name, event_at, session_id, page_url, user_agent, device_type,
    utm_source, utm_medium, geography, event_type
{% endset %}

with

-- Read twice, straight from the source: materializing every event in between costs more.
events as not materialized (
    select * from {{ ref('stg_events') }}
),

-- A 64-bit hash of the whole row finds the candidates in one narrow pass...
repeated_hashes as (
    select hash({{ all_columns }}) as row_hash,
    from events
    group by row_hash
    having count(*) > 1
),

candidates as (
    select *,
    from events
    where hash({{ all_columns }}) in (select row_hash from repeated_hashes)
),

-- ...and only rows equal in every column count as duplicates, so a hash collision
-- between different events cannot drop one of them.
duplicated as (
    select
        *,
        count(*) as copies_received,
    from candidates
    group by all
    having count(*) > 1
),

final as (
    select * from duplicated
)

select * from final
