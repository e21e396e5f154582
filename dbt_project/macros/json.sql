{#- JSON access behind adapter.dispatch: DuckDB here, another engine adds its own version. -#}

{% macro paw_json_text(json_column, path) -%}
    {{ return(adapter.dispatch('paw_json_text', 'paw')(json_column, path)) }}
{%- endmacro %}

{% macro default__paw_json_text(json_column, path) -%}
    json_extract_string({{ json_column }}, '{{ path }}')
{%- endmacro %}

{#- Text at a top-level key of a lake JSON column, parsed only where the column's text holds
    the key's quoted name: the lake's JSON is written by ingestion's parser, which spells every
    key out (docs/lake.md), so a value without the name has no such key. For a key that most
    events lack (int_event_groups: the context's groupId). -#}
{% macro paw_json_text_if_named(json_column, key) -%}
    {{ return(adapter.dispatch('paw_json_text_if_named', 'paw')(json_column, key)) }}
{%- endmacro %}

{% macro default__paw_json_text_if_named(json_column, key) -%}
    case
        when contains({{ json_column }}, '"{{ key }}"')
            then {{ paw_json_text(json_column, '$.' ~ key) }}
    end
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
    '{' || array_to_string({{ paw_ordered_list(
        'to_json(' ~ key_column ~ ')::varchar || \':\' || ' ~ value_column ~ '::varchar',
        key_column
    ) }}, ',') || '}'
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

{#- Several paths of one JSON document at once, as a list of text (the document is parsed
    once, not once per path). -#}
{% macro paw_json_texts(json_column, paths) -%}
    {{ return(adapter.dispatch('paw_json_texts', 'paw')(json_column, paths)) }}
{%- endmacro %}

{% macro default__paw_json_texts(json_column, paths) -%}
    json_extract_string({{ json_column }}, [{% for p in paths %}'{{ p }}'{% if not loop.last %}, {% endif %}{% endfor %}])
{%- endmacro %}

{#- The commonly used context fields of an event, from two parsed lists: `p` holds
    properties' path, url and referrer, `c` the context's page path, url, referrer, campaign
    source, medium and name, device type, os and browser (see paw_context_paths). -#}
{% macro paw_property_paths() -%}
    {{ return(['$.path', '$.url', '$.referrer']) }}
{%- endmacro %}

{% macro paw_context_paths() -%}
    {{ return(['$.page.path', '$.page.url', '$.page.referrer', '$.campaign.source',
               '$.campaign.medium', '$.campaign.name', '$.device.type', '$.os.name',
               '$.browser.name']) }}
{%- endmacro %}

{% macro paw_context_fields(p, c) -%}
    coalesce({{ p }}[1], {{ c }}[1]) as page_path,
    coalesce({{ p }}[2], {{ c }}[2]) as page_url,
    nullif(coalesce({{ p }}[3], {{ c }}[3]), '') as referrer,
    {{ c }}[4] as utm_source,
    {{ c }}[5] as utm_medium,
    {{ c }}[6] as utm_campaign,
    {{ c }}[7] as device_type,
    {{ c }}[8] as os_name,
    {{ c }}[9] as browser_name
{%- endmacro %}

{#- A JSON value's type in JSON's own words (string, number, boolean, object, array or null),
    from DuckDB's name of it (json_type's, or json_each's `type`). -#}
{% macro paw_json_type_name(type_name) -%}
    case {{ type_name }}
        when 'VARCHAR' then 'string'
        when 'BIGINT' then 'number'
        when 'UBIGINT' then 'number'
        when 'DOUBLE' then 'number'
        when 'BOOLEAN' then 'boolean'
        when 'OBJECT' then 'object'
        when 'ARRAY' then 'array'
        when 'NULL' then 'null'
        else lower({{ type_name }})
    end
{%- endmacro %}

{#- One row per top-level key of a JSON object, with its value's type (columns `key` and
    `type`), from one parse of the object: use in a lateral position as `... as alias`. -#}
{% macro paw_json_entries(json_column) -%}
    {{ return(adapter.dispatch('paw_json_entries', 'paw')(json_column)) }}
{%- endmacro %}

{% macro default__paw_json_entries(json_column) -%}
    json_each({{ json_column }})
{%- endmacro %}

{#- Traits, one rule for persons and groups: per owner, the latest value of each key across the
    rows' JSON objects (latest by `time_column`, ties by `id_column`), as one JSON object, keys
    in order. A query with the columns (`owner_column`, traits). -#}
{% macro paw_latest_values_per_key(relation, owner_column, json_column, time_column, id_column) -%}
    select
        {{ owner_column }},
        {{ paw_json_object_agg('trait_key', 'trait_value') }} as traits
    from (
        select
            {{ owner_column }},
            trait_key,
            trait_value,
            row_number() over (
                partition by {{ owner_column }}, trait_key
                order by {{ time_column }} desc, {{ id_column }} desc
            ) as recency_rank
        from (
            select
                source_rows.{{ owner_column }},
                source_rows.{{ time_column }},
                source_rows.{{ id_column }},
                trait_keys.trait_key,
                {{ paw_json_value('source_rows.' ~ json_column, 'trait_keys.trait_key') }}
                    as trait_value
            from {{ relation }} as source_rows,
                unnest({{ paw_json_keys('source_rows.' ~ json_column) }}) as trait_keys (trait_key)
            where source_rows.{{ json_column }} is not null
        ) as trait_values
    ) as latest_traits
    where recency_rank = 1
    group by {{ owner_column }}
{%- endmacro %}
