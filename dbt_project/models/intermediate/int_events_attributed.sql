{#- Rule 3 and 4: every event's person. An event with a user_id belongs to that user's person.
    An event with only an anonymous_id belongs to the person of that id's latest link at or
    before the event; if it is earlier than every link, to the person of the first link; if the
    id is never linked, to a person of its own (person_id = the anonymous id). -#}
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

timeline as (
    -- links and anonymous events on one timeline per anonymous id; at equal times a link
    -- comes first ("at or before")
    select
        anonymous_id,
        linked_at as at_time,
        0 as row_kind,
        person_id as link_person_id,
        cast(null as varchar) as event_id
    from links
    union all
    select
        anonymous_id,
        event_timestamp as at_time,
        1 as row_kind,
        cast(null as varchar) as link_person_id,
        event_id
    from anonymous_only_events
),

filled as (
    select
        event_id,
        anonymous_id,
        row_kind,
        last_value(link_person_id ignore nulls) over (
            partition by anonymous_id
            order by at_time, row_kind, link_person_id
            rows between unbounded preceding and current row
        ) as person_before,
        first_value(link_person_id ignore nulls) over (
            partition by anonymous_id
            order by at_time, row_kind, link_person_id
            rows between current row and unbounded following
        ) as person_after
    from timeline
),

anonymous_attribution as (
    select
        event_id,
        coalesce(person_before, person_after, anonymous_id) as person_id,
        coalesce(person_before, person_after) is not null as is_identified
    from filled
    where row_kind = 1
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
