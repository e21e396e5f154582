{#- JSON access behind adapter.dispatch: DuckDB here, another engine adds its own version. -#}

{% macro paw_json_text(json_column, path) -%}
    {{ return(adapter.dispatch('paw_json_text', 'paw')(json_column, path)) }}
{%- endmacro %}

{% macro default__paw_json_text(json_column, path) -%}
    json_extract_string({{ json_column }}, '{{ path }}')
{%- endmacro %}

{#- One row per key of a JSON object: use in a lateral position as `unnest(...) as t(key)`. -#}
{% macro paw_json_keys(json_column) -%}
    {{ return(adapter.dispatch('paw_json_keys', 'paw')(json_column)) }}
{%- endmacro %}

{% macro default__paw_json_keys(json_column) -%}
    json_keys({{ json_column }})
{%- endmacro %}

{% macro paw_json_value(json_column, key_column) -%}
    {{ return(adapter.dispatch('paw_json_value', 'paw')(json_column, key_column)) }}
{%- endmacro %}

{% macro default__paw_json_value(json_column, key_column) -%}
    json_extract({{ json_column }}, '$."' || replace({{ key_column }}, '"', '\\"') || '"')
{%- endmacro %}

{#- Aggregate key/value rows into one JSON object, keys in order (a rebuild gives the same text). -#}
{% macro paw_json_object_agg(key_column, value_column) -%}
    {{ return(adapter.dispatch('paw_json_object_agg', 'paw')(key_column, value_column)) }}
{%- endmacro %}

{% macro default__paw_json_object_agg(key_column, value_column) -%}
    '{' || string_agg(to_json({{ key_column }})::varchar || ':' || {{ value_column }}::varchar, ',' order by {{ key_column }}) || '}'
{%- endmacro %}

{#- A sorted array of the distinct non-null values. -#}
{% macro paw_distinct_list(column) -%}
    {{ return(adapter.dispatch('paw_distinct_list', 'paw')(column)) }}
{%- endmacro %}

{% macro default__paw_distinct_list(column) -%}
    list_sort(list(distinct {{ column }}) filter (where {{ column }} is not null))
{%- endmacro %}

{#- Text at a key named by another column (a top-level key). -#}
{% macro paw_json_text_at(json_column, key_column) -%}
    {{ return(adapter.dispatch('paw_json_text_at', 'paw')(json_column, key_column)) }}
{%- endmacro %}

{% macro default__paw_json_text_at(json_column, key_column) -%}
    json_extract_string({{ json_column }}, '$."' || replace({{ key_column }}, '"', '\\"') || '"')
{%- endmacro %}

{#- The commonly used context fields of an event, each one JSON path. -#}
{% macro paw_context_fields(properties, context) -%}
    coalesce(
        {{ paw_json_text(properties, '$.path') }}, {{ paw_json_text(context, '$.page.path') }}
    ) as page_path,
    coalesce(
        {{ paw_json_text(properties, '$.url') }}, {{ paw_json_text(context, '$.page.url') }}
    ) as page_url,
    nullif(coalesce(
        {{ paw_json_text(properties, '$.referrer') }},
        {{ paw_json_text(context, '$.page.referrer') }}
    ), '') as referrer,
    {{ paw_json_text(context, '$.campaign.source') }} as utm_source,
    {{ paw_json_text(context, '$.campaign.medium') }} as utm_medium,
    {{ paw_json_text(context, '$.campaign.name') }} as utm_campaign,
    {{ paw_json_text(context, '$.device.type') }} as device_type,
    {{ paw_json_text(context, '$.os.name') }} as os_name,
    {{ paw_json_text(context, '$.browser.name') }} as browser_name
{%- endmacro %}
