-- Anomalies of one shop and one direction, across metrics, where each next anomalous hour
-- comes at most group_max_gap_hours after the group's last; each group's scenario:
--   D  the group has one metric, or lasts one hour;
--   C  otherwise, when no metric in it has a clear contributor;
--   A  otherwise, when the metrics with a clear contributor all share one (the same
--      element: value or combination of values, a session's utm values counting as its
--      landing's; a metric without a clear contributor does not break the sharing);
--   B  otherwise: different metrics have different contributors.
-- A metric's contributor in a group is the primary element of its peak hour (the hour
-- with the largest score), as the localizer found it (fct_anomaly_hours).
with

anomaly_hours as (
    select * from {{ ref('fct_anomaly_hours') }}
),

ordered as (
    select
        *,
        max(hour_at) over (
            partition by shop, direction
            order by hour_at, metric
            rows between unbounded preceding and 1 preceding
        ) as previous_last_hour_at,
    from anomaly_hours
),

numbered as (
    select
        *,
        sum(
            case
                when previous_last_hour_at is null
                    or hour_at > previous_last_hour_at
                    + to_hours({{ var('group_max_gap_hours') }})
                    then 1
                else 0
            end
        ) over (
            partition by shop, direction
            order by hour_at, metric
            rows between unbounded preceding and current row
        ) as group_number,
        -- Which hour is a metric's peak: the largest score, and of equal scores the
        -- earliest hour, so that every build names the same one.
        (abs(score), -epoch_us(hour_at)) as peak_order,
    from ordered
),

metric_contributors as (
    select
        shop,
        direction,
        group_number,
        metric,
        arg_max(primary_dimension, peak_order) as contributor_dimension,
        arg_max(primary_dimension_value, peak_order) as contributor_value,
        arg_max(primary_element, peak_order) as contributor_element,
        arg_max(primary_contribution, peak_order) as contributor_contribution,
        arg_max(hour_at, peak_order) as peak_hour_at,
        arg_max(pct_diff, peak_order) as peak_pct_diff,
    from numbered
    group by all
),

spans as (
    select
        shop,
        direction,
        group_number,
        min(hour_at) as start_at,
        max(hour_at) as end_at,
        count(distinct hour_at) as n_hours,
        -- A holiday the shop meets for the first time cannot be expected: the reason.
        min(holiday) filter (where holiday is not null and not is_holiday_expected)
            as unexpected_holiday,
    from numbered
    group by all
),

contributors_by_group as (
    select
        shop,
        direction,
        group_number,
        list(metric order by metric) as metrics,
        count(*) as n_metrics,
        list(
            {
                'metric': metric,
                'dimension': contributor_dimension,
                'value': contributor_value,
                'element': contributor_element,
                'contribution': round(contributor_contribution, 4),
                'peak_hour_at': peak_hour_at,
                'peak_pct_diff': round(peak_pct_diff, 2)
            }
            order by metric
        ) as contributors,
        count(contributor_dimension) as n_metrics_with_contributor,
        -- A landing's utm values and its session's (the later events') name the same
        -- visitors: `utm_source=fbig` in landings and `session_utm_source=fbig` in
        -- checkouts are one contributor.
        count(distinct replace(contributor_element, 'session_utm_', 'utm_'))
            as n_distinct_contributors,
        -- In one order whatever order the rows came in (DuckDB's threads set it).
        list_sort(list(distinct contributor_dimension) filter (
            where contributor_dimension is not null
        )) as dimensions,
    from metric_contributors
    group by all
),

classified as (
    select
        spans.*,
        contributors_by_group.* exclude (shop, direction, group_number),
        case
            when contributors_by_group.n_metrics = 1 or spans.n_hours = 1 then 'D'
            when contributors_by_group.n_metrics_with_contributor = 0 then 'C'
            when contributors_by_group.n_distinct_contributors = 1 then 'A'
            else 'B'
        end as scenario,
    from spans
    inner join contributors_by_group using (shop, direction, group_number)
),

described as (
    select
        *,
        list_aggregate(
            list_transform(metrics, lambda metric: replace(metric, '_', ' ')), 'string_agg', ', '
        ) as metric_list,
        list_filter(
            contributors, lambda contributor: contributor.dimension is not null
        ) as named_contributors,
        case direction when 'negative' then 'fell' else 'rose' end as verb,
        strftime(start_at, '%Y-%m-%d %H:00') || ' to ' || strftime(end_at, '%H:00') || ' UTC'
            as span,
    from classified
),

-- Each metric's contributor as words, and the first one alone (scenarios A and D).
phrased as (
    select
        *,
        list_aggregate(
            list_transform(
                named_contributors,
                lambda contributor: format(
                    '{} by {} ({})',
                    replace(contributor.metric, '_', ' '),
                    contributor.value,
                    contributor.dimension
                )
            ),
            'string_agg',
            '; '
        ) as contributor_phrases,
        format(
            '{} ({})', named_contributors[1].value, named_contributors[1].dimension
        ) as first_contributor_phrase,
    from described
),

-- One line a person can read, by scenario.
stated as (
    select
        *,
        case scenario
            when 'A'
                then
                    metric_list || ' ' || verb || ' together, ' || span
                    || ', all driven by ' || first_contributor_phrase
            when 'B'
                then
                    metric_list || ' ' || verb || ' together, ' || span
                    || ', with different causes: ' || contributor_phrases
            when 'C'
                then
                    metric_list || ' ' || verb || ' together, ' || span
                    || ', with no segment standing out: a shop-wide cause'
            else
                metric_list || ' ' || verb || ', ' || span
                || case
                    when len(named_contributors) = 0
                        then ', with no segment standing out'
                    when n_metrics = 1
                        then ', driven by ' || first_contributor_phrase
                    else ', ' || contributor_phrases
                end
        end
        || coalesce(
            ', on ' || unexpected_holiday
            || ' (its first time in this shop''s history, so not yet expected)',
            ''
        ) as root_cause,
    from phrased
),

final as (
    select
        {{ anomaly_group_id('shop', 'direction', 'start_at') }} as group_id,
        shop,
        direction,
        start_at,
        end_at,
        n_hours,
        metrics,
        n_metrics,
        scenario,
        contributors,
        coalesce(dimensions, []) as dimensions,
        n_metrics_with_contributor,
        n_distinct_contributors,
        unexpected_holiday,
        root_cause,
    from stated
)

select * from final
