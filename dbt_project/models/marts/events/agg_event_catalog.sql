{#- The event catalog: what the product tracks. One row per namespace, event type and event
    name, with the property keys its events carry, each with its JSON type and the share of the
    events that carry it (a key seen with two types is listed once per type). -#}
with

events as not materialized (
    select * from {{ ref('stg_events') }}
),

attributed as not materialized (
    select * from {{ ref('int_events_attributed') }}
),

activity as not materialized (
    select * from {{ ref('fct_events') }}
),

run_property_keys as not materialized (
    select * from {{ ref('int_event_property_keys') }}
),

event_persons as (
    -- each event's person: fct_events carries it for activity events (most of them), so only
    -- the other events are joined to their attribution
    select
        namespace,
        event_type,
        event_name,
        person_id
    from activity
    union all
    select
        events.namespace,
        events.event_type,
        events.event_name,
        attributed.person_id
    from events
    inner join attributed on events.event_id = attributed.event_id
    where not events.is_activity
),

name_persons as (
    select
        namespace,
        event_type,
        event_name,
        count(distinct person_id) as persons
    from event_persons
    group by namespace, event_type, event_name
),

name_counts as (
    select
        namespace,
        event_type,
        event_name,
        count(*) as events,
        min(event_timestamp) as first_seen_at,
        max(event_timestamp) as last_seen_at
    from events
    group by namespace, event_type, event_name
),

totals as (
    select
        name_counts.namespace,
        name_counts.event_type,
        name_counts.event_name,
        name_counts.events,
        coalesce(name_persons.persons, 0) as persons,
        name_counts.first_seen_at,
        name_counts.last_seen_at
    from name_counts
    left join name_persons
        on
            name_counts.namespace = name_persons.namespace
            and name_counts.event_type = name_persons.event_type
            and name_counts.event_name is not distinct from name_persons.event_name
),

property_keys as (
    -- counted per run as each run is staged: the properties are not parsed again
    select
        namespace,
        event_type,
        event_name,
        property_key,
        json_type,
        sum(carrying_events) as carrying_events
    from run_property_keys
    group by namespace, event_type, event_name, property_key, json_type
),

key_lists as (
    select
        property_keys.namespace,
        property_keys.event_type,
        property_keys.event_name,
        list(
            {
                'key': property_keys.property_key,
                'json_type': property_keys.json_type,
                'share': property_keys.carrying_events * 1.0 / totals.events
            }
            order by property_keys.property_key, property_keys.json_type
        ) as property_keys
    from property_keys
    inner join totals
        on
            property_keys.namespace = totals.namespace
            and property_keys.event_type = totals.event_type
            and property_keys.event_name is not distinct from totals.event_name
    group by property_keys.namespace, property_keys.event_type, property_keys.event_name
),

final as (
    select
        totals.namespace,
        totals.event_type,
        totals.event_name,
        totals.events,
        totals.persons,
        totals.first_seen_at,
        totals.last_seen_at,
        coalesce(key_lists.property_keys, []) as property_keys
    from totals
    left join key_lists
        on
            totals.namespace = key_lists.namespace
            and totals.event_type = key_lists.event_type
            and totals.event_name is not distinct from key_lists.event_name
)

select * from final
