{#
    What tells copies of one event (a pixel firing twice) from different events, within
    one hour, event profile (shop, event name, geography) and device: every other column,
    compared by value. The user agent and device_type stand in as the id of their pair
    (int_user_agents_classified), which is cheaper to compare than the two strings; the
    time is compared as the instant it names, to the nanosecond.

    No hash stands for a value anywhere in the hourly models: DuckDB's 64-bit hash() gives
    some distinct real user agents the same value (88 pairs among 342,112 at 30 million
    generated events), and a collision would merge two events, sessions or profiles
    without a trace.
#}
{% macro event_copy_columns(user_agent_id, relation) %}
    (
        {{ user_agent_id }},
        {{ relation }}.event_type,
        {{ relation }}.event_at,
        {{ relation }}.event_at_ns,
        {{ relation }}.session_id,
        {{ relation }}.page_url,
        {{ relation }}.utm_source,
        {{ relation }}.utm_medium
    )
{% endmacro %}

{# An event as a whole: equal for rows equal in every column. #}
{% macro event_identity(user_agent_id, relation) %}
    (
        {{ relation }}.shop,
        {{ relation }}.event_name,
        {{ relation }}.geography,
        {{ event_copy_columns(user_agent_id, relation) }}
    )
{% endmacro %}
