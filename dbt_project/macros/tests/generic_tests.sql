{#- The few generic tests paw needs (dbt packages cannot be fetched here). -#}

{#- Rows where the expression is false: each is a failure. -#}
{% test paw_expression_is_true(model, expression) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}

{#- Uniqueness checks only what a build wrote (docs/orchestration.md, data tests). A row of an
    incremental model that an earlier build wrote passed that build's tests and is unchanged
    (a failed build publishes nothing), so a key can only repeat where this build wrote a row:
    the rows with the model's newest built_at. A model without built_at, or whose rows are all
    this build's (a full build), is checked whole. A command that only compiles the tests (dbt
    compile, docs generate) shows the whole check and asks the warehouse nothing: the published
    warehouse may be one an older paw built, without the built_at a model has gained, until the
    next build rebuilds it. -#}
{% macro paw_newest_rows_only(model) -%}
    {%- if not execute or flags.WHICH not in ('build', 'test') -%}
        {{ return(none) }}
    {%- endif -%}
    {#- whether the model has built_at, from its documented columns (contracts, and
        tests/test_quickstart.py for built_at, hold them equal to the table's): asking
        the warehouse took a query and its log events per test, 51 of them -#}
    {%- set columns = [] -%}
    {%- for node in graph.nodes.values()
        if node.resource_type in ('model', 'seed')
        and node.schema == model.schema and node.alias == model.identifier -%}
        {%- do columns.extend(node.columns.keys()) -%}
    {%- endfor -%}
    {#- a table missing from dbt's cache of the warehouse (sqlfluff compiles with none) -#}
    {%- if 'built_at' not in columns or load_relation(model) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set newest = run_query(
        'select min(built_at) = max(built_at), max(built_at) from ' ~ model
    ) -%}
    {%- if newest.rows[0][0] in (none, true) -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return("built_at = cast('" ~ newest.rows[0][1] ~ "' as timestamp)") }}
{%- endmacro %}

{#- Values of the key columns that occur more than once (a null first column left out where
    skip_nulls, else nulls compared as equal), looked for among the keys of the rows this build
    wrote (paw_newest_rows_only). A semi-join on those keys, without a filter of its own: at 10M
    rows it takes half the time of a join on the distinct keys, or of the same semi-join beside
    a not-null filter (with skip_nulls, `=` never matches a null key anyway).
    A table checked whole looks for a repeated 64-bit hash of the keys first, and groups only
    the rows of a repeated hash by the keys themselves (a hash shared by two keys is no
    failure): grouping by the strings took 1.1-2.6 s for fct_events' event ids at 10M events.
    The hashes are sorted and each compared with the one before it, one sort of 8-byte values:
    a 10M-event full build's four largest checks took 0.64-1.24 s each so, against 1.11-1.93 s
    grouped by the hash. -#}
{% macro paw_repeated_keys(model, key_columns, skip_nulls=false) %}
{%- set newest = paw_newest_rows_only(model) -%}
{%- set checked_keys -%}
    {% for column in key_columns %}checked.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
{%- endset -%}
{%- set not_null = 'checked.' ~ key_columns[0] ~ ' is not null' if skip_nulls else 'true' -%}
select
    {{ checked_keys }},
    count(*) as occurrences
from {{ model }} as checked
{%- if newest %}
semi join (
    select {{ key_columns | join(', ') }} from {{ model }} where {{ newest }}
) as written
    on
    {%- for column in key_columns %}
        {{ 'and ' if not loop.first }}checked.{{ column }}
        {{ '=' if skip_nulls else 'is not distinct from' }} written.{{ column }}
    {%- endfor %}
{%- else %}
where
    {{ not_null }}
    and hash({{ checked_keys }}) in (
        select hashes.key_hash
        from (
            select
                key_hash,
                lag(key_hash) over (order by key_hash) as previous_hash
            from (
                select hash({{ checked_keys }}) as key_hash
                from {{ model }} as checked
                where {{ not_null }}
            )
        ) as hashes
        where hashes.key_hash = hashes.previous_hash
    )
{%- endif %}
group by {{ checked_keys }}
having count(*) > 1
{% endmacro %}

{#- Combinations of the columns that occur more than once. -#}
{% test paw_unique_combination(model, combination_of_columns) %}
{{ paw_repeated_keys(model, combination_of_columns) }}
{% endtest %}

{#- dbt's unique, with paw's scope: a value that occurs more than once. -#}
{% macro default__test_unique(model, column_name) %}
{{ paw_repeated_keys(model, [column_name], skip_nulls=true) }}
{% endmacro %}

{#- dbt's relationships: each value without a row of `to` to refer to, once (dbt's own lists
    every referring row). Each value is looked up once: fct_events' 10M session ids are 2M
    sessions, and the test took 0.54 s at 10M events instead of 0.87 s. -#}
{% macro default__test_relationships(model, column_name, to, field) %}
with

child as (
    select distinct {{ column_name }} as from_field
    from {{ model }}
    where {{ column_name }} is not null
),

parent as (
    select {{ field }} as to_field
    from {{ to }}
),

final as (
    select child.from_field
    from child
    anti join parent on child.from_field = parent.to_field
)

select * from final
{% endmacro %}

{#- Values outside [min_value, max_value] (either bound may be left out). -#}
{% test paw_between(model, column_name, min_value=none, max_value=none) %}
select *
from {{ model }}
where
    {{ column_name }} is not null
    and (
        false
        {%- if min_value is not none %} or {{ column_name }} < {{ min_value }}{% endif %}
        {%- if max_value is not none %} or {{ column_name }} > {{ max_value }}{% endif %}
    )
{% endtest %}
