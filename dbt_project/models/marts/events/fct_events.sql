{#- Incremental: a build rewrites the events whose person, session or group changed since its
    last build (their int_sessionized_activity or int_event_groups row is newer). -#}
{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='paw_upsert',
    paw_updated_columns=[
        'person_id', 'session_id', 'session_number', 'person_event_number', 'group_id'
    ],
    on_schema_change='fail',
    paw_chunked=true,
    paw_order_by=['person_id', 'event_timestamp', 'event_id'],
) }}
with

stg_events as not materialized (
    select * from {{ ref('stg_events') }}
),

{% if is_incremental() %}
-- written in chunks of persons too (macros/chunked_tables.sql): at 100M events the changed
-- events of a new day are tens of millions
changed_events as (
    select built.event_id
    from {{ ref('int_sessionized_activity') }} as built
    where built.built_at > {{ paw_watermark() }} and {{ paw_in_chunk('built.person_id') }}
    union
    select built.event_id
    from {{ ref('int_event_groups') }} as built
    where built.built_at > {{ paw_watermark() }} and {{ paw_in_chunk('built.person_id') }}
),

-- semi-joins on every input: each large table is probed against the changed events' ids,
-- where joins hashed whole 10M-row tables to rewrite a tenth of them
events as not materialized (
    select * from stg_events
    where stg_events.event_id in (select changed_events.event_id from changed_events)
),

sessionized as not materialized (
    select * from {{ ref('int_sessionized_activity') }} as built
    where built.event_id in (select changed_events.event_id from changed_events)
),

event_groups as not materialized (
    select * from {{ ref('int_event_groups') }} as built
    where built.event_id in (select changed_events.event_id from changed_events)
),
{% else %}
events as not materialized (
    select * from stg_events
),

-- a full build is written in chunks of persons (macros/chunked_tables.sql); an event's person
-- is the same in both tables, and filtering both keeps DuckDB from hashing the events' whole
-- payload to probe all the groups (28 GB of spill for a tenth of 100M events)
sessionized as not materialized (
    select * from {{ ref('int_sessionized_activity') }} as built
    where {{ paw_in_chunk('built.person_id') }}
),

event_groups as not materialized (
    select * from {{ ref('int_event_groups') }} as built
    where {{ paw_in_chunk('built.person_id') }}
),
{% endif %}

parsed as (
    select
        events.*,
        sessionized.person_id,
        sessionized.session_id,
        sessionized.session_number,
        sessionized.person_event_number,
        -- not the event's own group id (events.group_id), which is only a part of the rule
        event_groups.group_id as placed_group_id,
        {{ paw_json_texts('events.properties', paw_property_paths()) }} as property_texts,
        {{ paw_json_texts('events.context', paw_context_paths()) }} as context_texts
    from events
    inner join sessionized on events.event_id = sessionized.event_id
    left join event_groups on events.event_id = event_groups.event_id
),

final as (
    select
        event_id,
        person_id,
        session_id,
        session_number,
        person_event_number,
        placed_group_id as group_id,
        event_timestamp,
        event_date,
        event_name,
        event_type,
        namespace,
        user_id,
        anonymous_id,
        properties,
        {{ paw_json_text('extra', '$.category') }} as page_category,
        {{ paw_context_fields('property_texts', 'context_texts') }},
        {{ paw_built_at() }} as built_at
    from parsed
)

-- stored in person order (paw_order_by, macros/chunked_tables.sql): a person's timeline reads
-- a few row groups (DuckDB's min/max zone maps skip the rest) instead of the whole table
select * from final
