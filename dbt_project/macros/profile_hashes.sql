{#
    The big aggregations group and carry 64-bit hashes instead of strings: comparing a
    hundred-byte user agent on every one of millions of rows costs more than the whole
    hourly count. Each hash is defined once here, so the model that aggregates events and
    the model that decodes the hash back into its values (one row per distinct value,
    where a unique test would catch two values sharing a hash) always agree.

    No hash groups events by their user agent: real traffic brings tens of thousands of
    distinct user agents (every app and OS version), so each one is looked up once
    (int_user_agents_classified) and events are grouped by the OS family it stands for.
#}

{# A user agent as sent, with the device_type that stands in for it when it is missing. #}
{% macro user_agent_hash() %}
    hash(user_agent, device_type)
{% endmacro %}

{# The values an event is counted by, besides its device: shop, name and geography. #}
{% macro event_profile_hash() %}
    hash(shop, event_name, geography)
{% endmacro %}

{#
    What tells copies of one event (a pixel firing twice) from different events: every
    column the event profile leaves out, the user agent through its hash (computed once
    per row as user_agent_hash) rather than its hundred bytes again.
#}
{% macro event_copy_hash() %}
    hash(user_agent_hash, event_type, event_at, session_id, page_url, utm_source, utm_medium)
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
