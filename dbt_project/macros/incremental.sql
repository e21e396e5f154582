{#- Incremental builds (docs/orchestration.md). Every row an incremental model writes carries
    built_at, the start of the dbt invocation that wrote it; a model's changes since its own
    last build are its parents' rows with a later built_at than its own newest. A build that
    rewrote nothing leaves its watermark where it was, so nothing is ever missed: the same
    changes are merely looked at again. -#}

{#- When this build started (UTC), the built_at of every row it writes. -#}
{% macro paw_built_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}

{#- The newest built_at this model has written: its parents' rows built later are its work. -#}
{% macro paw_watermark() -%}
    (select coalesce(max(built.built_at), timestamp '1970-01-01') from {{ this }} as built)
{%- endmacro %}

{#- The rows of `relation` (a model with built_at) that a model whose rows each depend on one
    of them builds: on an incremental build, those written since the model's own last build
    (new, or rewritten: an event moved to another person or group); on a full build, all. -#}
{% macro paw_rows_since_last_build(relation) -%}
    select rewritten.*
    from {{ relation }} as rewritten
    {%- if is_incremental() %}
    where rewritten.built_at > {{ paw_watermark() }}
    {%- endif %}
{%- endmacro %}

{#- The persons whose activity changed since this model's last build, and from when: a new or
    re-attributed activity event changes its person, and the person it left
    (int_events_attributed.previous_person_id), from its time on. The one home of this rule for
    the incremental models. With activity_only=false, every event counts (dim_persons: an
    identify call changes a person's traits, a group call their groups). -#}
{% macro paw_changed_persons(activity_only=true) -%}
    select
        changes.person_id,
        min(changes.event_timestamp) as changed_from
    from (
        select changed.person_id, changed.event_timestamp
        from {{ ref('int_events_attributed') }} as changed
        where {{ 'changed.is_activity and' if activity_only }} changed.built_at > {{ paw_watermark() }}
        union all
        select changed.previous_person_id, changed.event_timestamp
        from {{ ref('int_events_attributed') }} as changed
        where
            {{ 'changed.is_activity and' if activity_only }}
            changed.built_at > {{ paw_watermark() }}
            and changed.previous_person_id is not null
    ) as changes
    group by changes.person_id
{%- endmacro %}

{#- Replaces the rows of the keys (`key`: person_id or session_id) that `keys_sql` lists with
    the rows this build computed. The list is written first, by a statement of its own, into a
    temporary table that the DELETE then probes: a DELETE running the list's joins over the
    target itself ran out of memory where the two statements did not (int_path_nodes at 10M
    events under 250 MB: a tenth of the data under a tenth of the 2 GB it failed in at 100M).
    Every statement sees the watermark the model's query saw: the target is unchanged until
    the delete. -#}
{% macro paw_replace_keys(arg_dict, key, keys_sql) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- set list_keys -%}
        create or replace temporary table paw_replaced_keys as {{ keys_sql }}
    {%- endset -%}
    {%- do run_query(list_keys) -%}
    delete from {{ target }}
    where {{ key }} in (select replaced.{{ key }} from paw_replaced_keys as replaced);
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }};
    drop table paw_replaced_keys
{%- endmacro %}

{#- The incremental strategy of the models with rows per person: every row of each changed
    person (paw_changed_persons; config `paw_activity_only` false counts every event) and of
    each person the build computed is replaced by the rows this build computed for them, so a
    person left with no rows (merged into another) loses theirs. -#}
{% macro get_incremental_paw_replace_persons_sql(arg_dict) -%}
    {%- set activity_only = config.get('paw_activity_only', true) -%}
    {%- set changed -%}
        select changed_persons.person_id
        from ({{ paw_changed_persons(activity_only) }}) as changed_persons
        union
        select built.person_id from {{ arg_dict['temp_relation'] }} as built
    {%- endset -%}
    {{ paw_replace_keys(arg_dict, 'person_id', changed) }}
{%- endmacro %}

{#- The sessions a build changed: every session of a changed person with an event at or after
    the time the person changed from. The walk of int_sessionized_activity rewrites exactly those
    events (it continues from the sessions before them, which are as they were built), so they
    are the sessions of its rows written since this model's last build: the newest rows, which
    DuckDB finds by their row groups' zone maps instead of joining every row to the persons.
    A chunked build lists its chunk's own: DuckDB then estimates the list smaller than the
    rows it is matched with, and hashes the list (int_path_nodes at 10M events: it hashed 9.2M
    rows of int_sessionized_activity to probe 194,000 sessions, 3.2 s of the model's 5.7). -#}
{% macro paw_changed_sessions() -%}
    select distinct walked.session_id
    from {{ ref('int_sessionized_activity') }} as walked
    where walked.built_at > {{ paw_watermark() }} and {{ paw_in_chunk('walked.person_id') }}
{%- endmacro %}

{#- The incremental strategy of the models with rows per session: the rows of the changed
    sessions (paw_changed_sessions, the sessions of the new rows) are replaced, and so are the
    rows of sessions that no longer exist (merged into another by a late event, or moved to
    another person): those end at or after their person changed, the column the model names
    in its config `paw_session_rows_end_at`. -#}
{% macro get_incremental_paw_replace_sessions_sql(arg_dict) -%}
    {%- set ends_at = config.require('paw_session_rows_end_at') -%}
    {#- one list of sessions (a correlated condition per row took three times longer) -#}
    {%- set changed -%}
        select built.session_id from {{ arg_dict['temp_relation'] }} as built
        union
        select ended.session_id
        from {{ arg_dict['target_relation'] }} as ended
        inner join ({{ paw_changed_persons() }}) as changed_persons
            on ended.person_id = changed_persons.person_id
        where ended.{{ ends_at }} >= changed_persons.changed_from
    {%- endset -%}
    {{ paw_replace_keys(arg_dict, 'session_id', changed) }}
{%- endmacro %}

{#- The rows of `relation` that a build redoes: those of the changed persons (by='person_id')
    or of the changed sessions (by='session_id'). -#}
{% macro paw_rows_changed(relation, by='person_id') -%}
    select changed_rows.*
    from {{ relation }} as changed_rows
    -- a semi-join, not a join: DuckDB then knows that it keeps at most the relation's rows
    -- (it estimated the join at a thousand times the relation, and hashed the wrong side of
    -- every join after it)
    where changed_rows.{{ by }} in (
        select changed.{{ by }}
        from (
            {% if by == 'session_id' %}{{ paw_changed_sessions() }}{% else %}{{ paw_changed_persons() }}{% endif %}
        ) as changed
    )
    -- a chunked build (macros/chunked_tables.sql) redoes a chunk of persons at a time
    and {{ paw_in_chunk('changed_rows.person_id') }}
{%- endmacro %}

{#- The incremental strategy of the models with one row per event (unique_key): the rows this
    build computed for events already in the table are updated in place, the others inserted.
    A delete and insert would leave a few deleted rows in most of the table's vectors (the
    events a night rewrites belong to persons stored all over it), which DuckDB holds in memory
    until they are compacted (macros/compaction.sql): at 10M events fct_events' delete, insert
    and compaction took 6.4 s for 32,000 rewritten events, where updating them takes 0.6 s and
    leaves nothing to compact. DuckDB holds an update in memory until its checkpoint, so a
    build that rewrites more existing rows than a tenth of a chunk (paw_chunk_rows(): 500,000 at
    2GB) deletes and inserts them instead, and the compaction follows. New rows are inserted in
    the model's paw_order_by, so that each night's rows are stored in order too. The model must
    build one row per key (an UPDATE would silently take one of several): a build that does not
    fails, naming the model. A model whose key has several rows (config
    `paw_rows_per_key='several'`: an event matching several funnel steps) keeps the same rows
    for a key from one build to the next, and only its updated columns change, one value per
    key: every stored row of the key takes them, and a build that computes two values for one
    key fails the same way.
    The update finds its rows by the rowids listed with the keys: joined on the key it read
    the key of every stored row again (0.54 s against 0.35 s for 31,000 of 9.2M rows). It sets
    the columns of config `paw_updated_columns` and built_at (all when unset): a model whose
    other columns are the event's own (the lake holds each event once, never changed) names
    the few a rebuild can change, and DuckDB updates, logs and checkpoints only those
    (fct_events: 1.7 s with its 22 columns, 0.36 s with its 4). -#}
{% macro get_incremental_paw_upsert_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set built = arg_dict['temp_relation'] -%}
    {%- set key = arg_dict['unique_key'] -%}
    {%- set names = arg_dict['dest_columns'] | map(attribute='name') | list -%}
    {%- set columns = get_quoted_csv(names) -%}
    {%- set order_by = config.get('paw_order_by') -%}
    {%- set updated = paw_updated_columns(names, key) -%}
    {%- set rows_per_key = config.get('paw_rows_per_key') or 'one' -%}
    {%- if rows_per_key not in ('one', 'several') -%}
        {%- do exceptions.raise_compiler_error(
            model.name ~ ": paw_rows_per_key is 'one' or 'several', not '" ~ rows_per_key ~ "'"
        ) -%}
    {%- elif rows_per_key == 'several' and config.get('paw_updated_columns') is none -%}
        {%- do exceptions.raise_compiler_error(
            model.name ~ ": paw_rows_per_key='several' needs paw_updated_columns, the columns"
            ~ " that can change (each key's other columns are as they were built)"
        ) -%}
    {%- endif -%}
    {#- what the update reads: one row per key -#}
    {%- if rows_per_key == 'one' -%}
        {%- set updates = built -%}
    {%- else -%}
        {%- set updates -%}
            (select distinct {{ key }}, {{ get_quoted_csv(updated) }} from {{ built }})
        {%- endset -%}
    {%- endif -%}
    {%- set list_existing -%}
        create or replace temporary table paw_existing_keys as
        select existing.rowid as paw_row_id, existing.{{ key }}
        from {{ target }} as existing
        where existing.{{ key }} in (select built.{{ key }} from {{ built }} as built)
    {%- endset -%}
    {%- set counts = run_query(
        'select count(*), count(distinct ' ~ key ~ ') from ' ~ updates ~ ' as updates'
    ).rows[0] -%}
    {%- if counts[0] != counts[1] and rows_per_key == 'one' -%}
        {%- do exceptions.raise_compiler_error(
            model.name ~ " uses the incremental strategy paw_upsert, which needs one row per "
            ~ key ~ ", but built " ~ counts[0] ~ " rows for " ~ counts[1] ~ " keys"
        ) -%}
    {%- elif counts[0] != counts[1] -%}
        {%- do exceptions.raise_compiler_error(
            model.name ~ " uses the incremental strategy paw_upsert with several rows per " ~ key
            ~ ", which needs one value of " ~ updated | join(', ') ~ " per " ~ key
            ~ ", but built " ~ counts[0] ~ " for " ~ counts[1] ~ " keys"
        ) -%}
    {%- endif -%}
    {%- do run_query(list_existing) -%}
    {%- set existing = run_query('select count(*) from paw_existing_keys').columns[0].values()[0] -%}
    {%- if existing > paw_chunk_rows() // 10 -%}
        delete from {{ target }}
        where {{ key }} in (select existing.{{ key }} from paw_existing_keys as existing);
        insert into {{ target }} ({{ columns }})
        select {{ columns }} from {{ built }}
        {% if order_by %}order by {{ order_by | join(', ') }}{% endif %};
    {%- else -%}
        update {{ target }}
        set
            {%- for name in updated %}
            {{ adapter.quote(name) }} = rebuilt.{{ adapter.quote(name) }}{{ ',' if not loop.last }}
            {%- endfor %}
        from (
            select
                existing.paw_row_id,
                {%- for name in updated %}
                built.{{ adapter.quote(name) }}{{ ',' if not loop.last }}
                {%- endfor %}
            from {{ updates }} as built
            inner join paw_existing_keys as existing on built.{{ key }} = existing.{{ key }}
        ) as rebuilt
        where {{ target }}.rowid = rebuilt.paw_row_id;
        insert into {{ target }} ({{ columns }})
        select {{ columns }}
        from {{ built }} as built
        where built.{{ key }} not in (select existing.{{ key }} from paw_existing_keys as existing)
        {% if order_by %}order by {{ order_by | join(', ') }}{% endif %};
    {%- endif %}
    drop table paw_existing_keys
{%- endmacro %}

{#- The columns paw_upsert's update sets, of the model's `names`: its config
    `paw_updated_columns` and built_at (when it has one), or every column but the key when
    unset. A name that is not a column of the model is an error: a misspelt one would leave
    its column stale. -#}
{% macro paw_updated_columns(names, key) -%}
    {%- set configured = config.get('paw_updated_columns') -%}
    {%- if configured is none -%}
        {{ return(names | reject('equalto', key) | list) }}
    {%- endif -%}
    {%- set unknown = configured | reject('in', names) | list -%}
    {%- if unknown -%}
        {%- do exceptions.raise_compiler_error(
            model.name ~ ": paw_updated_columns names no column " ~ unknown | join(', ')
        ) -%}
    {%- endif -%}
    {%- set stamped = ['built_at'] if 'built_at' in names else [] -%}
    {{ return(configured | reject('equalto', 'built_at') | list + stamped) }}
{%- endmacro %}
