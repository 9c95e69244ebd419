{#
    The big aggregations group and carry 64-bit hashes instead of strings: comparing a
    hundred-byte user agent on every one of millions of rows costs more than the whole
    hourly count. Each hash is defined once here, so the model that aggregates events and
    the model that decodes the hash back into its values (one row per distinct profile,
    where a unique test would catch two profiles sharing a hash) always agree.
#}

{# The values an event is counted by: which shop, which name, which dimension values. #}
{% macro event_profile_hash() %}
    hash(shop, event_name, geography, user_agent, device_type)
{% endmacro %}

{#
    Within one hour and event profile, what tells copies of one event (a pixel firing
    twice) from different events: every column the profile leaves out. Hashing only these
    five and the time, not the long user agent again, keeps the one pass over every event
    cheaper.
#}
{% macro event_copy_hash() %}
    hash(event_type, event_at, session_id, page_url, utm_source, utm_medium)
{% endmacro %}

{# An event as a whole: equal for rows equal in every column. #}
{% macro event_hash() %}
    hash({{ event_profile_hash() }}, {{ event_copy_hash() }})
{% endmacro %}

{# What a page view brings to its session's landing: dimension values and marketing. #}
{% macro page_view_profile_hash() %}
    hash(shop, geography, user_agent, device_type, utm_source, utm_medium, page_url)
{% endmacro %}

{# The identity of a session: its shop and session id. #}
{% macro session_hash() %}
    hash(shop, session_id)
{% endmacro %}
