{#
    The dimensions of the funnel events, in the fixed order combinations are named in
    (device, geography, then how the visitor arrived). The founding document's marketing
    dimensions belong to landing page views; the session ones carry a landing's utm values
    to its session's later events (session attribution, this project's own).
#}
{% macro event_dimensions() %}
    {{ return(['device', 'geography']) }}
{% endmacro %}

{% macro landing_dimensions() %}
    {{ return(event_dimensions() + ['utm_source', 'utm_medium']) }}
{% endmacro %}

{% macro attributed_dimensions() %}
    {{ return(event_dimensions() + ['session_utm_source', 'session_utm_medium']) }}
{% endmacro %}

{% macro funnel_dimensions() %}
    {{ return(landing_dimensions() + ['session_utm_source', 'session_utm_medium']) }}
{% endmacro %}
