-- One row per anomalous hour of a shop's metric total, with its root cause as the
-- localizer found it (int_anomaly_root_causes): the primary element (the one explaining
-- the largest share of the deviation; a value or a combination, whose dimensions and
-- values are joined by ' & ' in a fixed dimension order), the whole set in the field's
-- notation, and the single values that moved most with the total.
with

anomalies as (
    select * from {{ ref('fct_anomalies') }}
),

contributors as (
    select * from {{ ref('int_anomaly_contributors_scored') }}
),

anomalous_totals as (
    select
        shop,
        hour_at,
        metric,
        direction,
        actual,
        expected,
        pct_diff,
        score,
        holiday,
        is_holiday_expected,
    from anomalies
    where dimension = 'total' and is_anomaly
),

root_causes as (
    select * from {{ ref('int_anomaly_root_causes') }}
),

-- An element is a root cause of the hour when it moved the way the total did and explains
-- at least contributor_min_explanatory_power of its deviation: the localizer also names
-- smaller moves of its own, and a segment that held up while everything else fell.
causes as (
    select
        root_causes.*,
        row_number() over (
            partition by root_causes.shop, root_causes.hour_at, root_causes.metric
            order by root_causes.explained desc, root_causes.element_rank asc
        ) as cause_rank,
    from root_causes
    inner join anomalous_totals using (shop, hour_at, metric)
    where
        root_causes.explained >= {{ var('contributor_min_explanatory_power') }}
        and (root_causes.factor > 1) = (anomalous_totals.direction = 'positive')
),

primary_elements as (
    select
        shop,
        hour_at,
        metric,
        dimension as primary_dimension,
        dimension_value as primary_dimension_value,
        element as primary_element,
        explained as primary_contribution,
    from causes
    where cause_rank = 1
),

-- Elements separated by ';', each `dimension=value` joined by '&', ranked.
element_sets as (
    select
        shop,
        hour_at,
        metric,
        string_agg(element, ';' order by cause_rank) as root_cause_elements,
    from causes
    group by all
),

-- The values that moved with the total, most surprising first, clear or not.
top_contributors as (
    select
        shop,
        hour_at,
        metric,
        list(
            {
                'dimension': dimension,
                'value': dimension_value,
                'contribution': round(explanatory_power, 4),
                'surprise': round(surprise, 5),
                'is_clear': is_clear_contributor
            }
            -- A landing's utm value and its session's often move as one: ties are
            -- broken by name, so that every build lists them in one order.
            order by surprise desc, explanatory_power desc, dimension asc, dimension_value asc
        )[1:{{ var('contributors_listed') }}] as top_contributors,
    from contributors
    where explanatory_power > 0
    group by all
),

final as (
    select
        anomalous_totals.*,
        primary_elements.primary_dimension,
        primary_elements.primary_dimension_value,
        primary_elements.primary_element,
        primary_elements.primary_contribution,
        element_sets.root_cause_elements,
        coalesce(top_contributors.top_contributors, []) as top_contributors,
    from anomalous_totals
    left join primary_elements using (shop, hour_at, metric)
    left join element_sets using (shop, hour_at, metric)
    left join top_contributors using (shop, hour_at, metric)
)

select * from final
