{#- Only committed runs: a lake file counts when the run id in its name
    (part-<run_id>.parquet, ingestion.lake.PART_FILE_PATTERN) is in the ingestion log, so a run
    that died before its commit is never read. The one home of this rule in SQL: the committed
    runs (less those already staged in `staged_in`, when given) as a SQL list of literals.
    Literals, because DuckDB then reads only those runs' files; with a subquery it reads the
    whole lake to filter it (5.6 s instead of 0.1 s to stage a day at 10M events). -#}
{% macro paw_committed_runs(staged_in=none) -%}
    {#- named outside `execute`, so that parsing records the model's dependency on the log -#}
    {%- set ingestion_log = source('lake', 'ingestion_log') -%}
    {%- if execute and flags.WHICH in ('run', 'build') -%}
        {%- set runs = paw_committed_run_ids() -%}
        {%- if staged_in is not none -%}
            {#- two distinct lists, compared here: DuckDB's except of the two takes 50x longer -#}
            {%- set runs = runs | reject('in', paw_staged_run_ids(staged_in)) | list -%}
        {%- endif -%}
        {#- no run: a list that matches nothing -#}
        {{ paw_quoted_list(runs) if runs else '(select null where false)' }}
    {%- else -%}
        {#- compiled without a build (dbt compile, docs, sqlfluff): the same runs, as a query -#}
        (
            select ingestion_log.run_id from {{ ingestion_log }} as ingestion_log
            {%- if staged_in is not none %}
            where ingestion_log.run_id not in (select staged.run_id from {{ staged_in }} as staged)
            {%- endif %}
        )
    {%- endif -%}
{%- endmacro %}

{#- The committed runs' ids, in order (only while a build executes: it queries the log). -#}
{% macro paw_committed_run_ids() -%}
    {{ return(run_query(
        'select distinct run_id from ' ~ source('lake', 'ingestion_log') ~ ' order by 1'
    ).columns[0].values() | list) }}
{%- endmacro %}

{#- The ids of the runs staged in `relation` (a model with a run_id column). -#}
{% macro paw_staged_run_ids(relation) -%}
    {{ return(run_query(
        'select distinct run_id from ' ~ relation
    ).columns[0].values() | list) }}
{%- endmacro %}

{#- A lake file of a committed run. -#}
{% macro paw_committed_runs_filter(filename_column) -%}
    {{ paw_run_id_of(filename_column) }} in {{ paw_committed_runs() }}
{%- endmacro %}

{#- The ingestion run that wrote a lake file, from its name (part-<run_id>.parquet, or
    part-<run_id>-<n>.parquet for a date's later files of a large run). -#}
{% macro paw_run_id_of(filename_column) -%}
    regexp_extract({{ filename_column }}, 'part-([0-9]{8}T[0-9]{6}Z-[0-9a-f]{8})(?:-[0-9]+)?\.parquet', 1)
{%- endmacro %}

{#- Before an incremental build of a staging model: forget the rows of runs that are no longer
    committed in the lake (a lake rebuilt or pruned since), so that they are never kept. The
    runs are compared here, as lists: almost always every staged run is still committed and
    nothing is deleted, where a delete testing every row took 0.8 s a night at 10M events. -#}
{% macro paw_unstage_uncommitted_runs() -%}
    {%- if is_incremental() and execute and flags.WHICH in ('run', 'build') -%}
        {%- set committed = paw_committed_run_ids() -%}
        {%- set uncommitted = paw_staged_run_ids(this) | reject('in', committed) | list -%}
        {%- if uncommitted %}
        delete from {{ this }} where run_id in {{ paw_quoted_list(uncommitted) }}
        {%- endif -%}
    {%- elif is_incremental() %}
        delete from {{ this }} where run_id not in {{ paw_committed_runs() }}
    {%- endif %}
{%- endmacro %}
