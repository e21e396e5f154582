with

events as (
    select * from {{ ref('stg_events') }}
),

sessionized as (
    select * from {{ ref('int_sessionized_activity') }}
),

event_groups as (
    select * from {{ ref('int_event_groups') }}
),

parsed as (
    select
        events.*,
        sessionized.person_id,
        sessionized.session_id,
        event_groups.group_id,
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
        group_id,
        event_timestamp,
        event_date,
        event_name,
        event_type,
        namespace,
        user_id,
        anonymous_id,
        properties,
        {{ paw_json_text('extra', '$.category') }} as page_category,
        {{ paw_context_fields('property_texts', 'context_texts') }}
    from parsed
)

-- clustered by person: a person's timeline reads a few row groups (DuckDB's min/max zone maps
-- skip the rest) instead of the whole table
select * from final
order by person_id, event_timestamp, event_id
