{#
    The big aggregations group and carry 64-bit hashes instead of strings: comparing a
    hundred-byte user agent on every one of millions of rows costs more than the whole
    hourly count. Each hash is defined once here, so the model that aggregates events and
    the model that decodes the hash back into its values (one row per distinct value,
    where a unique test would catch two values sharing a hash) always agree.

    No hash stands for a user agent. Real traffic brings tens of thousands of distinct
    ones (every app and OS version), and DuckDB's hash() gives some of them the same value
    (88 pairs among 342,112 at 30 million generated events): each user agent is looked up
    by its text (int_user_agents_classified) and events are grouped by its OS family.
#}

{# The values an event is counted by, besides its device: shop, name and geography. #}
{% macro event_profile_hash() %}
    hash(shop, event_name, geography)
{% endmacro %}

{#
    What tells copies of one event (a pixel firing twice) from different events, within
    one hour, event profile and device: every column the profile leaves out. A collision
    here would need two events of the same hour, profile and device to share a value; at
    30 million generated events, 30,181,826 distinct events gave as many distinct values.
#}
{% macro event_copy_hash() %}
    hash(
        user_agent, device_type, event_type, event_at, session_id, page_url, utm_source,
        utm_medium
    )
{% endmacro %}

{# An event as a whole: equal for rows equal in every column. #}
{% macro event_hash() %}
    hash({{ event_profile_hash() }}, {{ event_copy_hash() }})
{% endmacro %}

{#
    What a page view brings to its session's landing: dimension values and the utm values
    as sent, in their columns or in the URL. Not the URL itself: with a click id in it,
    nearly every paid landing URL is unique.
#}
{% macro page_view_profile_hash() %}
    hash(shop, geography, device, utm_source, utm_medium, utm_source_in_url, utm_medium_in_url)
{% endmacro %}

{# The identity of a session: its shop and session id. #}
{% macro session_hash() %}
    hash(shop, session_id)
{% endmacro %}
