{#- The definitions this build computed from, as paw passed them (the var
    paw_project_definitions: each seed, model and macro file and each var, with a hash of its
    content). The next build compares them with the project's: an incremental build needs a
    warehouse built from the same definitions, else it rebuilds everything
    (orchestration/dbt/incremental.py, docs/orchestration.md). -#}
{%- set definitions = var('paw_project_definitions', {}) -%}
with

definitions as (
    {%- if definitions %}
    select
        definitions.definition,
        definitions.content_hash
    from (
        values
        {%- for name, content_hash in definitions.items() %}
            ('{{ name | replace("'", "''") }}', '{{ content_hash | replace("'", "''") }}')
            {{- ',' if not loop.last }}
        {%- endfor %}
    ) as definitions (definition, content_hash)
    {%- else %}
    -- dbt run without paw (no definitions passed): an empty record, which no build matches
    select
        cast(null as varchar) as definition,
        cast(null as varchar) as content_hash
    where false
    {%- endif %}
),

final as (
    select
        definition,
        content_hash
    from definitions
)

select * from final
