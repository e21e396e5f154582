{#- Rule 2: an anonymous_id is linked to a person by any event carrying both ids, and by an
    alias call whose previous_id is not a known user id (a link at the alias's time).

    Only the links that can decide an attribution (rule 3) are kept. An id linked to one person
    only keeps its first and last link of each source: every event of that id belongs to that
    person, whatever the links between (7.3M links become 0.3M rows at 10M events). An id linked
    to several persons (a shared device) keeps every link: its events are split by time. -#}
with

events as not materialized (
    select * from {{ ref('stg_events') }}
),

user_persons as not materialized (
    select * from {{ ref('int_user_persons') }}
),

links_from_events as not materialized (
    select
        events.anonymous_id,
        user_persons.person_id,
        events.event_timestamp as linked_at,
        'event' as link_source
    from events
    inner join user_persons on events.user_id = user_persons.user_id
    where events.anonymous_id is not null
),

links_from_aliases as not materialized (
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

all_links as not materialized (
    select * from links_from_events
    union all
    select * from links_from_aliases
),

event_id_pairs as (
    -- each pair of ids once, before the join to persons: joining every event's link first
    -- (8M rows at 10M events) took a third of the model's time
    select
        events.anonymous_id,
        events.user_id,
        min(events.event_timestamp) as first_linked_at,
        max(events.event_timestamp) as last_linked_at
    from events
    where events.anonymous_id is not null and events.user_id is not null
    group by events.anonymous_id, events.user_id
),

link_spans as (
    -- a person's user ids (an alias merges several) join into one span per anonymous id
    select
        event_id_pairs.anonymous_id,
        user_persons.person_id,
        'event' as link_source,
        min(event_id_pairs.first_linked_at) as first_linked_at,
        max(event_id_pairs.last_linked_at) as last_linked_at
    from event_id_pairs
    inner join user_persons on event_id_pairs.user_id = user_persons.user_id
    group by event_id_pairs.anonymous_id, user_persons.person_id
    union all
    select
        anonymous_id,
        person_id,
        link_source,
        min(linked_at) as first_linked_at,
        max(linked_at) as last_linked_at
    from links_from_aliases
    group by anonymous_id, person_id, link_source
),

shared_ids as (
    select anonymous_id
    from link_spans
    group by anonymous_id
    having count(distinct person_id) > 1
),

single_person_links as (
    select
        link_spans.anonymous_id,
        link_spans.person_id,
        unnest([link_spans.first_linked_at, link_spans.last_linked_at]) as linked_at,
        link_spans.link_source
    from link_spans
    where link_spans.anonymous_id not in (select shared_ids.anonymous_id from shared_ids)
),

shared_id_links as (
    select all_links.*
    from all_links
    where all_links.anonymous_id in (select shared_ids.anonymous_id from shared_ids)
),

final as (
    select distinct
        anonymous_id,
        person_id,
        linked_at,
        link_source
    from single_person_links
    -- the two sets never share an anonymous id: no second deduplication
    union all
    select distinct
        anonymous_id,
        person_id,
        linked_at,
        link_source
    from shared_id_links
)

select * from final
