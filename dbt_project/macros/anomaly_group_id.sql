-- A group's id says what the group is: its shop, its direction and its first hour (UTC),
-- e.g. `shop-a/negative/2026-01-01T10`. Groups of one shop and direction never overlap in
-- time, so the three name one group, and the id stays the same when a later run adds
-- hours at the group's end or finds other groups before it. Text, not a hash: a hash
-- could merge two groups silently.
{% macro anomaly_group_id(shop, direction, start_at) -%}
    {{ shop }} || '/' || {{ direction }} || '/' || strftime({{ start_at }}, '%Y-%m-%dT%H')
{%- endmacro %}
