{#- Rule 2: an anonymous_id is linked to a person by any event carrying both ids, and by an
    alias call whose previous_id is not a known user id (a link at the alias's time). -#}
with

events as not materialized (
    select * from {{ ref('stg_events') }}
),

user_persons as not materialized (
    select * from {{ ref('int_user_persons') }}
),

links_from_events as (
    select
        events.anonymous_id,
        user_persons.person_id,
        events.event_timestamp as linked_at,
        'event' as link_source
    from events
    inner join user_persons on events.user_id = user_persons.user_id
    where events.anonymous_id is not null
),

links_from_aliases as (
    select
        events.previous_id as anonymous_id,
        user_persons.person_id,
        events.event_timestamp as linked_at,
        'alias' as link_source
    from events
    inner join user_persons on events.user_id = user_persons.user_id
    where
        events.event_type = 'alias'
        and events.previous_id not in (select known.user_id from user_persons as known)
),

final as (
    select distinct
        anonymous_id,
        person_id,
        linked_at,
        link_source
    from links_from_events
    -- the two sources never share a row (link_source differs): no second deduplication
    union all
    select distinct
        anonymous_id,
        person_id,
        linked_at,
        link_source
    from links_from_aliases
)

select * from final
