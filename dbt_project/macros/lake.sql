{#- Only committed runs: a lake file counts when the run id in its name
    (part-<run_id>.parquet, ingestion.lake.PART_FILE_PATTERN) is in the ingestion log, so a run
    that died before its commit is never read. The one home of this rule in SQL. -#}
{% macro paw_committed_runs_filter(filename_column) -%}
    {{ paw_run_id_of(filename_column) }} in (
        select ingestion_log.run_id from {{ source('lake', 'ingestion_log') }} as ingestion_log
    )
{%- endmacro %}

{#- The ingestion run that wrote a lake file, from its name. -#}
{% macro paw_run_id_of(filename_column) -%}
    regexp_extract({{ filename_column }}, 'part-([0-9]{8}T[0-9]{6}Z-[0-9a-f]{8})\.parquet', 1)
{%- endmacro %}

{#- Before an incremental build of a staging model: forget the rows of runs that are no longer
    committed in the lake (a lake rebuilt or pruned since), so that they are never kept. -#}
{% macro paw_unstage_uncommitted_runs() -%}
    {%- if is_incremental() %}
        delete from {{ this }} where run_id not in (
            select ingestion_log.run_id from {{ source('lake', 'ingestion_log') }} as ingestion_log
        )
    {%- endif %}
{%- endmacro %}
