-- OS family per distinct (user agent, device_type) pair: real traffic sends tens of
-- thousands of distinct user agents, so matching the rules once per distinct pair and
-- joining back (on the text: DuckDB's hash() gives some real user agents the same value)
-- is far cheaper than matching them on every event, and grouping events by OS family
-- keeps the hourly tables small. The id stands for the pair where events are compared for
-- exact copies, a number being cheaper to compare than two long strings.
{{ config(materialized='table') }}  -- joined to every event and page view

with

events as (
    select * from {{ ref('stg_events') }}
),

rules as (
    select * from {{ ref('device_os_rules') }}
),

distinct_pairs as (
    select distinct
        user_agent,
        device_type,
    from events
),

-- Cleaned once per distinct pair, not once per event (ten times the cost at 3 million).
user_agents as (
    select
        user_agent,
        device_type,
        nullif(trim(user_agent), '') as cleaned_user_agent,
        nullif(trim(device_type), '') as cleaned_device_type,
    from distinct_pairs
),

os_families as (
    select distinct os_family from rules
    union
    select 'Other'
),

matched as (
    select
        user_agents.user_agent,
        user_agents.device_type,
        user_agents.cleaned_user_agent,
        user_agents.cleaned_device_type,
        -- The first matching rule wins: iPhone user agents also say "like Mac OS X" and
        -- Android ones say "Linux", so the order in the seed matters.
        arg_min(rules.os_family, rules.priority) as os_family_from_user_agent,
    from user_agents
    left join rules
        on contains(lower(user_agents.cleaned_user_agent), rules.user_agent_contains)
    group by all
),

classified as (
    select
        row_number() over (order by matched.user_agent, matched.device_type) as user_agent_id,
        matched.user_agent,
        matched.device_type,
        case
            when matched.cleaned_user_agent is not null
                then coalesce(matched.os_family_from_user_agent, 'Other')
            -- Without a user agent, device_type counts only when it already names a family.
            else coalesce(os_families.os_family, 'Other')
        end as device,
    from matched
    left join os_families
        on lower(matched.cleaned_device_type) = lower(os_families.os_family)
),

final as (
    select * from classified
)

select * from final
