{#- Rule 3 and 4: every event's person. An event with a user_id belongs to that user's person.
    An event with only an anonymous_id belongs to the person of that id's latest link at or
    before the event; if it is earlier than every link, to the person of the first link; if the
    id is never linked, to a person of its own (person_id = the anonymous id).

    Most anonymous ids are linked to one person only: their events need no timeline. Only the
    ids linked to several persons (shared devices) are walked in time order.

    Incremental: a build attributes the new events, and again the earlier events whose person
    can have changed: those of users whose person changed (an alias merged them), and the
    anonymous-only events of ids that the new events link, or that are linked to a changed
    person. It writes only the rows that are new or changed; a row whose person changed
    keeps the person it left in previous_person_id until the next build, for the models that
    replace whole persons (paw_changed_persons). -#}
{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='paw_upsert',
    paw_updated_columns=['person_id', 'is_identified', 'previous_person_id'],
    on_schema_change='fail',
) }}
with

events as not materialized (
    select * from {{ ref('stg_events') }}
),

user_persons as not materialized (
    select * from {{ ref('int_user_persons') }}
),

links as not materialized (
    select * from {{ ref('int_anonymous_links') }}
),

{% if is_incremental() %}
attributed_before as not materialized (
    select * from {{ this }}
),

new_events as (
    select * from events where built_at > {{ paw_watermark() }}
),

moved_users as (
    select user_persons.user_id, user_persons.person_id
    from user_persons
    inner join (
        select distinct user_id, person_id from attributed_before where user_id is not null
    ) as users_before on user_persons.user_id = users_before.user_id
    where user_persons.person_id <> users_before.person_id
),

relinked_anonymous_ids as (
    -- a new event can link its anonymous id, an alias its previous id, and a new user id can
    -- turn an earlier alias's previous id from an anonymous id into a user
    select anonymous_id from new_events where anonymous_id is not null
    union
    select previous_id from new_events where previous_id is not null
    union
    select user_id from new_events where user_id is not null
    union
    select links.anonymous_id
    from links
    where links.person_id in (select moved_users.person_id from moved_users)
),

events_to_attribute as (
    select * from new_events
    union all
    select events.*
    from events
    where
        events.built_at <= {{ paw_watermark() }}
        and (
            events.user_id in (select moved_users.user_id from moved_users)
            or (
                events.user_id is null
                and events.anonymous_id in (
                    select relinked_anonymous_ids.anonymous_id from relinked_anonymous_ids
                )
            )
        )
),
{% else %}
attributed_before as not materialized (
    -- a full build: every event is new
    select
        cast(null as varchar) as event_id,
        cast(null as varchar) as person_id,
        cast(null as boolean) as is_identified
    where false
),

-- read twice below, each time for a few columns: inlined, each read scans only those of
-- stg_events; materialized (DuckDB's choice for a CTE read twice), it held every event. At
-- 10M events its query took 4.2-4.8 s instead of 2.6-2.7 s, and spilled 2.8 GB instead of
-- 1.6 GB under a 1 GB limit; at 89M events the model spilled 25 GB under 2 GB
events_to_attribute as not materialized (
    select * from events
),
{% endif %}

anonymous_only_events as (
    select
        event_id,
        anonymous_id,
        event_timestamp
    from events_to_attribute
    where user_id is null
),

link_summary as (
    select
        anonymous_id,
        count(distinct person_id) as linked_persons,
        min(person_id) as only_person_id
    from links
    where anonymous_id in (select anonymous_only_events.anonymous_id from anonymous_only_events)
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

attributed as (
    select
        events_to_attribute.event_id,
        coalesce(user_persons.person_id, anonymous_attribution.person_id) as person_id,
        events_to_attribute.user_id is not null
        or coalesce(anonymous_attribution.is_identified, false) as is_identified,
        events_to_attribute.user_id,
        events_to_attribute.anonymous_id,
        events_to_attribute.event_timestamp,
        events_to_attribute.is_activity
    from events_to_attribute
    left join user_persons on events_to_attribute.user_id = user_persons.user_id
    left join anonymous_attribution
        on events_to_attribute.event_id = anonymous_attribution.event_id
),

changed as (
    select
        attributed.*,
        case
            when attributed_before.person_id <> attributed.person_id
                then attributed_before.person_id
        end as previous_person_id
    from attributed
    left join (
        -- only the rows of the events attributed now: DuckDB would hash the whole table
        select attributed_before.*
        from attributed_before
        where attributed_before.event_id in (select attributed.event_id from attributed)
    ) as attributed_before on attributed.event_id = attributed_before.event_id
    where
        attributed_before.event_id is null
        or attributed_before.person_id <> attributed.person_id
        or attributed_before.is_identified <> attributed.is_identified
),

final as (
    select
        event_id,
        person_id,
        is_identified,
        user_id,
        anonymous_id,
        event_timestamp,
        is_activity,
        previous_person_id,
        {{ paw_built_at() }} as built_at
    from changed
)

select * from final
