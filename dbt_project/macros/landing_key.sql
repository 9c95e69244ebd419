{#
    A page view's claim to be its session's landing, packed into one HUGEINT so that a
    plain min() per session finds the landing and carries what it needs along:

        bits 120..  0 for an explicit landing event, 1 for a plain page view
        bits 64-119 the view's time in microseconds since 1970, offset by 2^55 so that
                    every year from 830 to 3111 is positive and fits in 56 bits
        bits 0-63   the page view's profile hash (also breaks exact-time ties)

    So the smallest key is the session's explicit landing if it sent one, else its
    earliest page view. One min() over a HUGEINT is faster than arg_min() or min() over a
    struct, which matters at millions of sessions; shifts and masks (never division,
    which is 25 times slower on HUGEINT) take it apart again.
#}

{% macro landing_key(is_explicit_landing, viewed_at, profile_hash) %}
    (
        ((not {{ is_explicit_landing }})::hugeint << 120)
        | ((epoch_us({{ viewed_at }}) + 36028797018963968)::hugeint << 64)
        | {{ profile_hash }}::hugeint
    )
{% endmacro %}

{% macro landing_key_is_explicit_landing(key) %}
    (({{ key }} >> 120) = 0)
{% endmacro %}

{% macro landing_key_viewed_at(key) %}
    make_timestamp(((({{ key }} >> 64) & 72057594037927935) - 36028797018963968)::bigint)
{% endmacro %}

{% macro landing_key_profile_hash(key) %}
    ({{ key }} & 18446744073709551615)::ubigint
{% endmacro %}
