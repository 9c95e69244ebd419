-- A count on the scale where its noise hardly depends on its level (the var
-- variance_stabilizing_offset): deviations there are in the forecasts' noise units.
{% macro variance_stabilized(count) -%}
    sqrt({{ count }} + {{ var('variance_stabilizing_offset') }})
{%- endmacro %}
