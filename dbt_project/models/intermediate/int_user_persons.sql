{#- Rule 1: a user_id is authoritative; two user ids are merged only by an alias call whose
    previous_id is a user id seen anywhere in the data. Merges are transitive, and a merged
    person's person_id is the user_id of the latest alias call that merged it. -#}
with recursive

events as not materialized (
    select * from {{ ref('stg_events') }}
),

known_users as (
    select distinct user_id from events where user_id is not null
),

merges as (
    select
        events.event_id,
        events.event_timestamp,
        events.previous_id,
        events.user_id
    from events
    inner join known_users on events.previous_id = known_users.user_id
    where
        events.event_type = 'alias'
        and events.user_id is not null
        and events.previous_id <> events.user_id
),

edges as (
    select previous_id as from_user, user_id as to_user from merges
    union
    select user_id as from_user, previous_id as to_user from merges
),

reachable as (
    select distinct from_user as start_user, from_user as reached_user from edges
    union
    select reachable.start_user, edges.to_user as reached_user
    from reachable
    inner join edges on reachable.reached_user = edges.from_user
),

components as (
    select
        reached_user as user_id,
        min(start_user) as component_id
    from reachable
    group by reached_user
),

latest_merge_per_component as (
    select
        components.component_id,
        merges.user_id as person_id,
        row_number() over (
            partition by components.component_id
            order by merges.event_timestamp desc, merges.event_id desc
        ) as merge_rank
    from merges
    inner join components on merges.user_id = components.user_id
),

final as (
    select
        known_users.user_id,
        coalesce(latest_merge_per_component.person_id, known_users.user_id) as person_id
    from known_users
    left join components on known_users.user_id = components.user_id
    left join latest_merge_per_component
        on components.component_id = latest_merge_per_component.component_id
        and latest_merge_per_component.merge_rank = 1
)

select * from final
