{#- The run id in a lake file's name (part-<run_id>.parquet). Readers keep only the files of
    committed runs (those in the manifest), so a run that died before its commit is never read. -#}
{% macro paw_run_id_of(filename_column) -%}
    regexp_extract({{ filename_column }}, 'part-([0-9]{8}T[0-9]{6}Z-[0-9a-f]{8})\.parquet', 1)
{%- endmacro %}
