-- What an event name is matched on: lower case, without spaces, hyphens or underscores, so
-- that one seed row serves every tracker's spelling of a name (Shopify's `product_viewed`,
-- Segment's `Product Viewed`, a hand-made `product-viewed`).
{% macro event_name_key(event_name) -%}
    regexp_replace(lower({{ event_name }}), '[\s_-]+', '', 'g')
{%- endmacro %}
