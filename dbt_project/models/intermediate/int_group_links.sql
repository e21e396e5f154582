{#- A group call links its person to a group (group_id) from the call's time on, with the call's
    traits as the group's traits (Segment's spec). -#}
with

events as not materialized (
    select * from {{ ref('stg_events') }}
),

attributed as not materialized (
    select * from {{ ref('int_events_attributed') }}
),

final as (
    select
        events.event_id,
        attributed.person_id,
        events.group_id,
        events.event_timestamp as linked_at,
        events.traits
    from events
    inner join attributed on events.event_id = attributed.event_id
    where events.event_type = 'group' and events.group_id is not null
)

select * from final
