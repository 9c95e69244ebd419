{#
    The value of one utm query parameter of a URL, URL-decoded ('+' is a space in query
    strings), or null when the URL does not carry it.
#}
{% macro utm_parameter_from_url(url_column, parameter) %}
    nullif(
        trim(url_decode(replace(
            regexp_extract({{ url_column }}, '[?&]{{ parameter }}=([^&#]*)', 1), '+', ' '
        ))),
        ''
    )
{% endmacro %}
