{#
    A page view's claim to be its session's landing, packed into one HUGEINT so that a
    plain min() per session finds the landing and carries what it needs along:

        bit  106      0 for an explicit landing event, 1 for a plain page view
        bits 42-105   the view's time in microseconds since 1970, offset by 2^63 so that
                      every representable time is positive
        bits 32-41    the nanoseconds within that microsecond (0-999), as sent
        bits 0-31     the page view's profile id

    So the smallest key is the session's explicit landing if it sent one, else its
    earliest page view to the nanosecond (two views tied to the nanosecond fall to the
    lower profile id). One min() over a HUGEINT is faster than arg_min() or min() over a
    struct, which matters at millions of sessions; shifts and masks (never division,
    which is 25 times slower on HUGEINT) take it apart again.
#}

{% macro landing_key(is_explicit_landing, viewed_at, viewed_at_ns, profile_id) %}
    (
        ((not {{ is_explicit_landing }})::hugeint << 106)
        | ((epoch_us({{ viewed_at }})::hugeint + 9223372036854775808) << 42)
        | (coalesce({{ viewed_at_ns }} - epoch_us({{ viewed_at }}) * 1000, 0)::hugeint << 32)
        | {{ profile_id }}::hugeint
    )
{% endmacro %}

{% macro landing_key_is_explicit_landing(key) %}
    (({{ key }} >> 106) = 0)
{% endmacro %}

{% macro landing_key_viewed_at(key) %}
    make_timestamp(((({{ key }} >> 42) & 18446744073709551615) - 9223372036854775808)::bigint)
{% endmacro %}

{% macro landing_key_profile_id(key) %}
    ({{ key }} & 4294967295)::bigint
{% endmacro %}
