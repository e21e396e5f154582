{#- Rule 3 and 4: every event's person. An event with a user_id belongs to that user's person.
    An event with only an anonymous_id belongs to the person of that id's latest link at or
    before the event; if it is earlier than every link, to the person of the first link; if the
    id is never linked, to a person of its own (person_id = the anonymous id).

    Most anonymous ids are linked to one person only: their events need no timeline. Only the
    ids linked to several persons (shared devices) are walked in time order. -#}
with

events as (
    select * from {{ ref('stg_events') }}
),

user_persons as (
    select * from {{ ref('int_user_persons') }}
),

links as (
    select * from {{ ref('int_anonymous_links') }}
),

anonymous_only_events as (
    select
        event_id,
        anonymous_id,
        event_timestamp
    from events
    where user_id is null
),

link_summary as (
    select
        anonymous_id,
        count(distinct person_id) as linked_persons,
        min(person_id) as only_person_id
    from links
    group by anonymous_id
),

single_person_events as (
    select
        anonymous_only_events.event_id,
        coalesce(link_summary.only_person_id, anonymous_only_events.anonymous_id) as person_id,
        link_summary.anonymous_id is not null as is_identified
    from anonymous_only_events
    left join link_summary
        on anonymous_only_events.anonymous_id = link_summary.anonymous_id
    where link_summary.linked_persons is null or link_summary.linked_persons = 1
),

shared_ids as (
    select anonymous_id
    from link_summary
    where linked_persons > 1
),

timeline as (
    -- links and anonymous events of shared ids on one timeline per anonymous id; at equal
    -- times a link comes first ("at or before")
    select
        links.anonymous_id,
        links.linked_at as at_time,
        0 as row_kind,
        links.person_id as link_person_id,
        cast(null as varchar) as event_id
    from links
    inner join shared_ids on links.anonymous_id = shared_ids.anonymous_id
    union all
    select
        anonymous_only_events.anonymous_id,
        anonymous_only_events.event_timestamp as at_time,
        1 as row_kind,
        cast(null as varchar) as link_person_id,
        anonymous_only_events.event_id
    from anonymous_only_events
    inner join shared_ids on anonymous_only_events.anonymous_id = shared_ids.anonymous_id
),

filled as (
    select
        event_id,
        row_kind,
        {{ paw_links_before_and_after(
            'anonymous_id', 'link_person_id', 'person_before', 'person_after'
        ) }}
    from timeline
),

shared_device_events as (
    select
        event_id,
        coalesce(person_before, person_after) as person_id,
        true as is_identified
    from filled
    where row_kind = 1
),

anonymous_attribution as (
    select * from single_person_events
    union all
    select * from shared_device_events
),

final as (
    select
        events.event_id,
        coalesce(user_persons.person_id, anonymous_attribution.person_id) as person_id,
        events.user_id is not null or coalesce(anonymous_attribution.is_identified, false)
            as is_identified
    from events
    left join user_persons on events.user_id = user_persons.user_id
    left join anonymous_attribution on events.event_id = anonymous_attribution.event_id
)

select * from final
