{#- When the Dagster asset sets var paw_row_count_directory, each table built writes its row
    count to <directory>/<schema>.<table>.csv, which the asset attaches to the materialization
    as dagster/row_count. (dagster-dbt's own fetch_row_counts would open the warehouse file while
    dbt still holds it.) Without the var, the hook is empty. -#}
{% macro paw_record_row_count() -%}
    {%- set directory = var('paw_row_count_directory', none) -%}
    {%- if directory and execute -%}
        copy (select count(*) as row_count from {{ this }})
        to '{{ directory | replace("'", "''") }}/{{ this.schema }}.{{ this.identifier }}.csv'
        (header false)
    {%- endif -%}
{%- endmacro %}
