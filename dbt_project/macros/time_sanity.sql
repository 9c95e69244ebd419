{#
    Whether an hour starts more than future_tolerance_hours after the run started: events
    in it come from a wrong clock (or a test file dated 2099) and are set aside.
#}
{% macro hour_is_in_future(hour_at) %}
    (
        {{ hour_at }} > (select run_started_at from {{ source('run', 'run_context') }})
        + to_hours({{ var('future_tolerance_hours') }})
    )
{% endmacro %}
