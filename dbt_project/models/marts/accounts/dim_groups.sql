{#- One row per group (organisation, account): its name and traits from its group calls, when
    it was seen, and how many persons it has (docs/semantics.md, accounts). -#}
with

links as not materialized (
    select * from {{ ref('int_group_links') }}
),

event_groups as not materialized (
    select * from {{ ref('int_event_groups') }}
),

activity as not materialized (
    select * from {{ ref('int_sessionized_activity') }}
),

grouped_events as (
    select
        group_id,
        person_id,
        event_timestamp,
        is_activity
    from event_groups
    where group_id is not null
),

seen as (
    select
        group_id,
        min(event_timestamp) as first_seen_at,
        max(event_timestamp) as last_seen_at
    from grouped_events
    group by group_id
),

linked_persons as (
    select
        group_id,
        count(distinct person_id) as persons
    from links
    group by group_id
),

data_end as (
    select cast(max(event_timestamp) as date) as last_activity_date from activity
),

active_persons as (
    select
        grouped_events.group_id,
        count(distinct grouped_events.person_id) as active_persons_30d
    from grouped_events
    cross join data_end
    where
        grouped_events.is_activity
        and cast(grouped_events.event_timestamp as date)
        > {{ dbt.dateadd('day', -30, 'data_end.last_activity_date') }}
    group by grouped_events.group_id
),

group_traits as (
    {{ paw_latest_values_per_key('links', 'group_id', 'traits', 'linked_at', 'event_id') }}
),

final as (
    select
        seen.group_id,
        {{ paw_json_text('group_traits.traits', '$.name') }} as group_name,
        coalesce(group_traits.traits, '{}') as traits,
        seen.first_seen_at,
        seen.last_seen_at,
        coalesce(linked_persons.persons, 0) as persons,
        coalesce(active_persons.active_persons_30d, 0) as active_persons_30d
    from seen
    left join group_traits on seen.group_id = group_traits.group_id
    left join linked_persons on seen.group_id = linked_persons.group_id
    left join active_persons on seen.group_id = active_persons.group_id
)

select * from final
