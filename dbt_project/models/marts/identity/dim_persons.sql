{#- Written in chunks of persons (macros/chunked_tables.sql): at 89M events its per-person
    lists and aggregates ran out of 2 GB built whole. Every input is read by person. Its rows
    are narrow: a chunk holds three times the default's rows (at 10M events under 250MB, chunks
    of 2.5M rows built and 5M ran out; at 2GB one chunk took 6.0 s where three took 7.6 s alone,
    and in the nightly about 0.4 s less once the next model's checkpoint, which writes them, is
    counted).

    Incremental: a build replaces the rows of the persons an event changed (any event: an
    identify call changes the traits, a group call the groups; paw_changed_persons) and of the
    persons whose engagement state moved with the as-of date, computed again from their whole
    history; a person merged into another loses their row (paw_replace_persons). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='paw_replace_persons',
    paw_activity_only=false,
    on_schema_change='fail',
    paw_chunked=true,
    paw_chunk_row_bytes=130,
) }}
{%- set rebuilt = (
    'and built.person_id in (select rebuilt_persons.person_id from rebuilt_persons)'
    if is_incremental() else ''
) %}
with

{% if is_incremental() %}
rebuilt_persons as materialized (
    select changed_persons.person_id
    from ({{ paw_changed_persons(config.get('paw_activity_only')) }}) as changed_persons
),
{% endif %}

events as not materialized (
    select * from {{ ref('stg_events') }}
),

attributed as materialized (
    -- read three times below: held once per chunk (a chunk's rows fit its memory by design,
    -- macros/chunked_tables.sql) where reading it again hashed every person of the table for
    -- the chunk's filter each time (10M events, 3 chunks: 5.3-5.9 s against 7.4-8.3 s)
    select * from {{ ref('int_events_attributed') }} as built
    where {{ paw_in_chunk('built.person_id') }} {{ rebuilt }}
),

links as not materialized (
    select * from {{ ref('int_anonymous_links') }} as built
    where {{ paw_in_chunk('built.person_id') }} {{ rebuilt }}
),

activity as not materialized (
    select * from {{ ref('fct_events') }} as built
    where {{ paw_in_chunk('built.person_id') }} {{ rebuilt }}
),

state_runs as not materialized (
    select * from {{ ref('int_engagement_states') }} as built
    where {{ paw_in_chunk('built.person_id') }} {{ rebuilt }}
),

group_links as not materialized (
    select * from {{ ref('int_group_links') }} as built
    where {{ paw_in_chunk('built.person_id') }} {{ rebuilt }}
),

person_summary as (
    -- int_events_attributed carries each event's ids and time: no join to the events needed
    select
        person_id,
        bool_or(is_identified) as is_identified,
        {{ paw_distinct_list('user_id') }} as user_ids,
        min(event_timestamp) as first_seen_at,
        max(event_timestamp) as last_seen_at
    from attributed
    group by person_id
),

person_anonymous_ids as (
    select
        person_id,
        anonymous_id
    from attributed
    where anonymous_id is not null
    union
    select
        person_id,
        anonymous_id
    from links
),

anonymous_id_lists as (
    select
        person_id,
        {{ paw_distinct_list('anonymous_id') }} as anonymous_ids
    from person_anonymous_ids
    group by person_id
),

identify_calls as (
    select
        attributed.person_id,
        events.event_id,
        events.event_timestamp,
        events.traits
    from events
    inner join attributed on events.event_id = attributed.event_id
    where events.event_type = 'identify'
),

person_traits as (
    {{ paw_latest_values_per_key(
        'identify_calls', 'person_id', 'traits', 'event_timestamp', 'event_id'
    ) }}
),

first_touch as (
    select
        activity.person_id,
        activity.referrer,
        activity.utm_source,
        activity.utm_medium,
        activity.utm_campaign
    from activity
    where activity.person_event_number = 1
),

person_activity as (
    select
        person_id,
        count(distinct event_date) as active_days,
        min(event_date) as first_active_date,
        max(event_date) as last_active_date,
        max(event_timestamp) as last_active_at
    from activity
    group by person_id
),

person_groups as (
    select
        person_id,
        {{ paw_distinct_list('group_id') }} as group_ids
    from group_links
    group by person_id
),

current_states as (
    -- every person's last run ends on the as-of date
    select
        person_id,
        {{ paw_last_by('engagement_state', 'state_start_date') }} as engagement_state
    from state_runs
    group by person_id
),

final as (
    select
        person_summary.person_id,
        person_summary.is_identified,
        person_summary.user_ids,
        coalesce(anonymous_id_lists.anonymous_ids, []) as anonymous_ids,
        person_summary.first_seen_at,
        person_summary.last_seen_at,
        coalesce(person_traits.traits, '{}') as traits,
        first_touch.referrer as first_touch_referrer,
        first_touch.utm_source as first_touch_utm_source,
        first_touch.utm_medium as first_touch_utm_medium,
        first_touch.utm_campaign as first_touch_utm_campaign,
        current_states.engagement_state,
        coalesce(person_activity.active_days, 0) as active_days,
        cast(
            {{ dbt.datediff(
                'person_activity.first_active_date', 'person_activity.last_active_date', 'day'
            ) }} + 1 as integer
        ) as lifetime_days,
        person_activity.last_active_at,
        coalesce(person_groups.group_ids, []) as group_ids,
        {{ paw_built_at() }} as built_at
    from person_summary
    left join anonymous_id_lists on person_summary.person_id = anonymous_id_lists.person_id
    left join person_traits on person_summary.person_id = person_traits.person_id
    left join first_touch on person_summary.person_id = first_touch.person_id
    left join person_activity on person_summary.person_id = person_activity.person_id
    left join current_states on person_summary.person_id = current_states.person_id
    left join person_groups on person_summary.person_id = person_groups.person_id
    {% if is_incremental() %}
        union all
        -- the persons no event changed whose engagement state moved with the as-of date (their
        -- last run of states ends on it): their row as stored, with the new state
        select stored.* replace (
            current_runs.engagement_state as engagement_state,
            {{ paw_built_at() }} as built_at
        )
        from {{ this }} as stored
        inner join {{ ref('int_engagement_states') }} as current_runs
            on stored.person_id = current_runs.person_id
        where
            current_runs.state_end_date = (
                select max(runs.state_end_date) from {{ ref('int_engagement_states') }} as runs
            )
            and current_runs.engagement_state is distinct from stored.engagement_state
            and stored.person_id not in (select rebuilt_persons.person_id from rebuilt_persons)
            and {{ paw_in_chunk('stored.person_id') }}
    {% endif %}
)

select * from final
