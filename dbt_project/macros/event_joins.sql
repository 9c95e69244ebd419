{#
    How a raw event finds its event profile and its user agent: by the text as sent (not a
    hash of it), nulls matching nulls, so two profiles or user agents never merge.
#}
{% macro matches_event_profile(events, profiles) %}
    {{ events }}.shop is not distinct from {{ profiles }}.shop_sent
    and {{ events }}.event_name is not distinct from {{ profiles }}.event_name_sent
    and {{ events }}.geography is not distinct from {{ profiles }}.geography_sent
{% endmacro %}

{% macro matches_user_agent(events, user_agents) %}
    {{ events }}.user_agent is not distinct from {{ user_agents }}.user_agent
    and {{ events }}.device_type is not distinct from {{ user_agents }}.device_type
{% endmacro %}
