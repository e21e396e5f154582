{#- Compaction of the incremental models (docs/orchestration.md, "Memory and disk on large data").
    DuckDB keeps the deletions of a 2,048-row vector of a table as one 8-byte entry per row of
    that vector, in memory it cannot evict, from the first time the table is read until the
    process ends; only a vector whose rows are all deleted costs almost nothing. An incremental
    build deletes the rows it replaces wherever they are stored, so night after night nearly
    every vector of a large table holds a few deletions: at 10M events one nightly build left
    int_path_nodes with deletions in 90% of its vectors, 75 MB that no later statement of the
    build could use. At 100M events that is 8 bytes a row of every event-grain table.

    So after its delete and insert, an incremental model moves the remaining rows of every
    vector with deletions to the end of the table, in the same transaction: such a vector is
    then wholly deleted, and what the deletions hold is bounded by the rows a build replaces,
    not by the history. The moved rows keep the model's paw_order_by. A full build has no
    deletions and moves nothing; tests/test_compaction.py. -#}
{% macro paw_compact_incremental() -%}
    {%- if execute and is_incremental() and not should_full_refresh() -%}
        {{ paw_compact(this, config.get('paw_order_by')) }}
    {%- endif -%}
{%- endmacro %}

{#- The statements that move the live rows of every vector of `relation` that has deleted rows
    to its end. A vector is a 2,048-row slice of a row group (row groups need not start on a
    multiple of 2,048); its rows are found through the 2,048-row block of rowids they fall in,
    an equality join, then the vector's bounds. None when the table has no deleted row: a build
    that appended or updated (stg_events, the paw_upsert models) then spends 0.03 s on the
    check instead of a pass over every vector (0.8 s for stg_events at 10M events). -#}
{% macro paw_compact(relation, order_by=none) -%}
    {%- if execute and not paw_has_deleted_rows(relation) -%}
        {{ return('') }}
    {%- endif -%}
    {%- set table_name = relation.schema ~ '.' ~ relation.identifier -%}
    create or replace temporary table paw_vectors_with_deletions as
    with

    row_groups as (
        select
            row_group_id,
            sum(count)::bigint as row_count
        from pragma_storage_info('{{ table_name | replace("'", "''") }}')
        where column_path = '[0]'
        group by row_group_id
    ),

    placed_row_groups as (
        select
            row_group_id,
            row_count,
            (sum(row_count) over (order by row_group_id) - row_count)::bigint as row_start
        from row_groups
    ),

    vectors as (
        select
            row_start + vector_index * 2048 as first_row_id,
            least(row_start + row_count, row_start + (vector_index + 1) * 2048) as end_row_id
        from (
            select
                *,
                unnest(range(0, (row_count + 2047) // 2048)) as vector_index
            from placed_row_groups
        )
    ),

    vector_blocks as (
        select
            *,
            unnest(range(first_row_id // 2048, (end_row_id - 1) // 2048 + 1)) as row_id_block
        from vectors
    ),

    live_rows as (
        select
            vector_blocks.first_row_id,
            any_value(vector_blocks.end_row_id) as end_row_id,
            count(*) as live_row_count
        from {{ relation }} as live
        inner join vector_blocks
            on
                live.rowid // 2048 = vector_blocks.row_id_block
                and live.rowid >= vector_blocks.first_row_id
                and live.rowid < vector_blocks.end_row_id
        group by vector_blocks.first_row_id
    ),

    final as (
        select
            vector_blocks.first_row_id,
            vector_blocks.end_row_id,
            vector_blocks.row_id_block
        from vector_blocks
        inner join live_rows on vector_blocks.first_row_id = live_rows.first_row_id
        where live_rows.live_row_count < live_rows.end_row_id - live_rows.first_row_id
    )

    select * from final;

    create or replace temporary table paw_moved_rows as
    select moved.rowid as paw_row_id, moved.*
    from {{ relation }} as moved
    inner join paw_vectors_with_deletions as partly_deleted
        on
            moved.rowid // 2048 = partly_deleted.row_id_block
            and moved.rowid >= partly_deleted.first_row_id
            and moved.rowid < partly_deleted.end_row_id;

    delete from {{ relation }}
    where rowid in (select paw_row_id from paw_moved_rows);

    insert into {{ relation }}
    select * exclude (paw_row_id) from paw_moved_rows
    {% if order_by %}order by {{ order_by | join(', ') }}{% endif %};

    drop table paw_moved_rows;
    drop table paw_vectors_with_deletions
{%- endmacro %}

{#- Whether `relation` has deleted rows in its stored row groups. DuckDB's estimated_size counts
    the stored rows, deleted or not; the rows this transaction appended are not stored yet, and
    their rowids start far above the stored ones. -#}
{% macro paw_has_deleted_rows(relation) -%}
    {%- set stored = run_query(
        "select coalesce(sum(estimated_size), 0) from duckdb_tables() "
        ~ "where database_name = current_database() and schema_name = '"
        ~ relation.schema | replace("'", "''") ~ "' and table_name = '"
        ~ relation.identifier | replace("'", "''") ~ "'"
    ).columns[0].values()[0] -%}
    {%- set live = run_query(
        "select count(*) from " ~ relation ~ " where rowid < " ~ stored
    ).columns[0].values()[0] -%}
    {{ return(live < stored) }}
{%- endmacro %}

{#- After the commit: the deletions are written out, and DuckDB frees what it held for them. -#}
{% macro paw_checkpoint_incremental() -%}
    {%- if execute and is_incremental() and not should_full_refresh() -%}
        checkpoint
    {%- endif -%}
{%- endmacro %}
