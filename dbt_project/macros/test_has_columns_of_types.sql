{#
    Fails with one row per column that is missing from the relation or whose DuckDB type
    is not of an accepted family. Families: text, timestamp (any unit, with or without
    zone), integer, list, struct (a GA4 export's nested columns). Used on the raw Parquet source, where a renamed or retyped column in
    an upstream export must stop the run instead of silently producing nulls.
#}
{% test has_columns_of_types(model, columns) %}

with

described as (
    select
        lower(column_name) as column_name,
        upper(column_type) as column_type,
    from (describe select * from {{ model }})
),

expected as (
    {% for column_name, families in columns.items() %}
    select
        '{{ column_name | lower }}' as column_name,
        {{ "[" ~ ("'" ~ (families | join("', '")) ~ "'") ~ "]" }} as accepted_families,
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

typed as (
    select
        expected.column_name,
        expected.accepted_families,
        described.column_type,
        case
            when described.column_type like '%[]' then 'list'
            when described.column_type like 'STRUCT(%' then 'struct'
            when described.column_type = 'VARCHAR' then 'text'
            when described.column_type like 'TIMESTAMP%' then 'timestamp'
            when described.column_type in (
                'TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT',
                'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT'
            ) then 'integer'
        end as column_family,
    from expected
    left join described using (column_name)
),

final as (
    select
        column_name,
        coalesce(column_type, 'missing') as column_type,
        accepted_families,
    from typed
    where column_family is null
        or not list_contains(accepted_families, column_family)
)

select * from final

{% endtest %}
