{#- Every event's group (docs/semantics.md, accounts): its own group id when it carries one
    (top-level groupId / group_id, or context.groupId); else the group of its person's latest
    group link at or before the event; else of the person's first link after it (the rule of
    anonymous ids); else none. Most persons are linked to one group only: their events need no
    timeline. Only the persons linked to several groups are walked in time order.

    Incremental: an event's group depends on its own group id, its person and that person's
    links alone. A build places the events that are new or moved to another person
    (int_events_attributed rows newer than its own), and every event of the persons whose links
    changed (a group call of theirs is new, or moved to or from them), and writes the rows that
    are new or moved. -#}
{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='paw_upsert',
    paw_updated_columns=['person_id', 'group_id', 'group_source'],
    on_schema_change='fail',
) }}
with

events as not materialized (
    select * from {{ ref('stg_events') }}
),

attributed as not materialized (
    select * from {{ ref('int_events_attributed') }}
),

links as not materialized (
    select * from {{ ref('int_group_links') }}
),

{% if is_incremental() %}
reattributed as not materialized (
    select * from attributed where attributed.built_at > {{ paw_watermark() }}
),

relinked_persons as (
    -- a group call that is new, or moved to or from a person, changes that person's links
    select reattributed.person_id as person_id
    from reattributed
    where reattributed.event_id in (select links.event_id from links)
    union
    select reattributed.previous_person_id as person_id
    from reattributed
    where
        reattributed.previous_person_id is not null
        and reattributed.event_id in (select links.event_id from links)
),

attributed_to_place as (
    -- the new and re-attributed events, and every event of the persons whose links changed
    select * from reattributed
    union all
    select attributed.*
    from attributed
    where
        attributed.built_at <= {{ paw_watermark() }}
        and attributed.person_id in (select relinked_persons.person_id from relinked_persons)
),
{% else %}
-- read twice below, for a few columns each time: inlined rather than held whole
attributed_to_place as not materialized (
    select * from attributed
),
{% endif %}

person_events as (
    select
        events.event_id,
        attributed_to_place.person_id,
        events.event_timestamp,
        events.is_activity,
        -- most events name no group: their context is not parsed (at 10M events the query
        -- took 8.6 s instead of 10.0 s, median of five runs each)
        coalesce(events.group_id, {{ paw_json_text_if_named('events.context', 'groupId') }})
            as own_group_id
    from events
    inner join attributed_to_place on events.event_id = attributed_to_place.event_id
),

placed_persons as (
    select distinct person_id from attributed_to_place
),

link_summary as (
    select
        links.person_id,
        count(distinct links.group_id) as linked_groups,
        min(links.group_id) as only_group_id,
        min(links.linked_at) as first_linked_at
    from links
    inner join placed_persons on links.person_id = placed_persons.person_id
    group by links.person_id
),

multi_group_persons as (
    select person_id
    from link_summary
    where linked_groups > 1
),

timeline as (
    -- links and the events without a group of their own of the persons linked to several
    -- groups, on one timeline per person; at equal times a link comes first ("at or before")
    select
        links.person_id,
        links.linked_at as at_time,
        0 as row_kind,
        links.group_id as link_group_id,
        cast(null as varchar) as event_id
    from links
    inner join multi_group_persons on links.person_id = multi_group_persons.person_id
    union all
    select
        person_events.person_id,
        person_events.event_timestamp as at_time,
        1 as row_kind,
        cast(null as varchar) as link_group_id,
        person_events.event_id
    from person_events
    inner join multi_group_persons on person_events.person_id = multi_group_persons.person_id
    where person_events.own_group_id is null
),

filled as (
    select
        event_id,
        row_kind,
        {{ paw_links_before_and_after(
            'person_id', 'link_group_id', 'group_before', 'group_after'
        ) }}
    from timeline
),

timeline_events as (
    select
        event_id,
        coalesce(group_before, group_after) as group_id,
        case when group_before is not null then 'link_before' else 'link_after' end
            as group_source
    from filled
    where row_kind = 1
),

placed as (
    -- a person linked to one group only needs no timeline: every event without a group of its
    -- own is that group's, from its first link on ("at or before") and before it ("first link
    -- after"): paw_links_before_and_after's rule for one link value, held equal to it by the
    -- unit test a_person_of_one_group_needs_no_timeline_and_follows_the_same_rule. Found by
    -- the person, not by a join of every event to its group by event id (at 10M events nine
    -- in ten events are of such persons)
    select
        person_events.event_id,
        person_events.person_id,
        -- carried for the group marts, which then need no join to the 10M staged events
        person_events.event_timestamp,
        person_events.is_activity,
        case
            when person_events.own_group_id is not null then person_events.own_group_id
            when link_summary.linked_groups = 1 then link_summary.only_group_id
            else timeline_events.group_id
        end as group_id,
        case
            when person_events.own_group_id is not null then 'event'
            when link_summary.linked_groups = 1
                then
                    case
                        when person_events.event_timestamp >= link_summary.first_linked_at
                            then 'link_before'
                        else 'link_after'
                    end
            else timeline_events.group_source
        end as group_source
    from person_events
    left join link_summary on person_events.person_id = link_summary.person_id
    left join timeline_events on person_events.event_id = timeline_events.event_id
),

changed as (
    -- only the rows that are new or moved: the events after them rewrite only those
    select placed.*
    from placed
    {%- if is_incremental() %}
        -- the stored rows of the placed events only: a join to the whole table hashed its
        -- every row (10M events: 9M rows hashed to compare 0.9M; the query 1.9-2.3 -> 1.4-1.5 s)
        left join (
            select stored.*
            from {{ this }} as stored
            where stored.event_id in (select placed.event_id from placed)
        ) as previous on placed.event_id = previous.event_id
        where
            previous.event_id is null
            or previous.person_id <> placed.person_id
            or previous.group_id is distinct from placed.group_id
            or previous.group_source is distinct from placed.group_source
    {%- endif %}
),

final as (
    select
        *,
        {{ paw_built_at() }} as built_at
    from changed
)

select * from final
