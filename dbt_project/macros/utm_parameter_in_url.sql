{#
    The value of one utm query parameter of a URL as it is written there, or null when the
    URL does not carry it. The cheap `contains` spares the regular expression every URL
    without the parameter, which is most of them.
#}
{% macro utm_parameter_in_url(url_column, parameter) %}
    case
        when contains({{ url_column }}, '{{ parameter }}=')
            then regexp_extract({{ url_column }}, '[?&]{{ parameter }}=([^&#]*)', 1)
    end
{% endmacro %}

{# A query parameter's value URL-decoded ('+' is a space in query strings), null if blank. #}
{% macro url_parameter_decoded(value) %}
    nullif(trim(url_decode(replace({{ value }}, '+', ' '))), '')
{% endmacro %}
