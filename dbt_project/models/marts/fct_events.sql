with

events as (
    select * from {{ ref('stg_events') }}
),

sessionized as (
    select * from {{ ref('int_sessionized_activity') }}
),

final as (
    select
        events.event_id,
        sessionized.person_id,
        sessionized.session_id,
        events.event_timestamp,
        events.event_date,
        events.event_name,
        events.event_type,
        events.namespace,
        events.user_id,
        events.anonymous_id,
        events.properties,
        {{ paw_context_fields('events.properties', 'events.context') }}
    from events
    inner join sessionized on events.event_id = sessionized.event_id
)

select * from final
