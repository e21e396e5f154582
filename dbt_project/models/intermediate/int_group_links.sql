{#- A group call links its person to a group (group_id) from the call's time on, with the call's
    traits as the group's traits (Segment's spec).

    Incremental: a row depends on its group call and the call's person alone. A build writes
    the group calls whose int_events_attributed row is newer than its own (new, or moved to
    another person), and updates the person of those already stored (paw_upsert). -#}
{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='paw_upsert',
    paw_updated_columns=['person_id'],
    on_schema_change='fail',
) }}
with

events as not materialized (
    select * from {{ ref('stg_events') }}
),

attributed as not materialized (
    -- the events new, or moved to another person, since this model's last build
    {{ paw_rows_since_last_build(ref('int_events_attributed')) }}
),

final as (
    select
        events.event_id,
        attributed.person_id,
        events.group_id,
        events.event_timestamp as linked_at,
        events.traits,
        {{ paw_built_at() }} as built_at
    from events
    inner join attributed on events.event_id = attributed.event_id
    where events.event_type = 'group' and events.group_id is not null
)

select * from final
