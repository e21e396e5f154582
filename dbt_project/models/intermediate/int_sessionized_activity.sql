{#- Sessions: per person, activity in time order (ties by event id); a gap of more than
    paw_session_timeout_minutes starts a new session (a gap of exactly the timeout does not).
    A session's id hashes its person and its first event, so it is stable across rebuilds.
    Narrow on purpose: the window functions sort only these columns.

    Incremental: only the persons whose activity changed (paw_changed_persons) are walked
    again, from their earliest changed event on, continuing from their last row before it
    (its time, session number, session id and event number), so a build's work is the new
    activity, not the whole history; the result is the same as a full walk. -#}
{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='paw_upsert',
    paw_updated_columns=[
        'person_id', 'session_number', 'session_id', 'is_session_start', 'person_event_number'
    ],
    on_schema_change='fail',
) }}
with

attributed as not materialized (
    select * from {{ ref('int_events_attributed') }}
),

activity as (
    select
        event_id,
        person_id,
        event_timestamp,
        built_at
    from attributed
    where is_activity
),

{% if is_incremental() %}
changed_persons as (
    {{ paw_changed_persons() }}
),

activity_to_walk as (
    select activity.event_id, activity.person_id, activity.event_timestamp
    from activity
    inner join changed_persons on activity.person_id = changed_persons.person_id
    where activity.event_timestamp >= changed_persons.changed_from
),

walked_before as (
    -- each changed person's last row before the change: the walk continues from it
    select
        previous.person_id,
        arg_max(previous.event_id, previous.person_event_number) as event_id,
        max(previous.event_timestamp) as event_timestamp,
        max(previous.session_number) as session_number,
        arg_max(previous.session_id, previous.person_event_number) as session_id,
        max(previous.person_event_number) as person_event_number
    from {{ this }} as previous
    inner join changed_persons on previous.person_id = changed_persons.person_id
    where previous.event_timestamp < changed_persons.changed_from
    group by previous.person_id
),
{% else %}
activity_to_walk as (
    select
        event_id,
        person_id,
        event_timestamp
    from activity
),

walked_before as (
    select
        cast(null as varchar) as person_id,
        cast(null as varchar) as event_id,
        cast(null as timestamp) as event_timestamp,
        cast(null as integer) as session_number,
        cast(null as varchar) as session_id,
        cast(null as bigint) as person_event_number
    where false
),
{% endif %}

gaps as (
    -- the walk sorts only the walked events' own columns; the row before the change (none in
    -- a full build) is joined in after each window: carried through them, its columns took
    -- 1.5 of the 10 s of the 10M full build
    select
        *,
        lag(event_timestamp) over (
            partition by person_id order by event_timestamp, event_id
        ) as previous_walked_at
    from activity_to_walk
),

continued_gaps as (
    select
        gaps.event_id,
        gaps.person_id,
        gaps.event_timestamp,
        -- a changed person's first walked event follows their row before the change
        coalesce(gaps.previous_walked_at, walked_before.event_timestamp) as previous_event_at
    from gaps
    left join walked_before on gaps.person_id = walked_before.person_id
),

session_starts as (
    select
        event_id,
        person_id,
        event_timestamp,
        previous_event_at is null
        or {{ paw_seconds_between('previous_event_at', 'event_timestamp') }}
        > {{ var('paw_session_timeout_minutes') }} * 60 as is_session_start
    from continued_gaps
),

numbered as (
    select
        event_id,
        person_id,
        event_timestamp,
        is_session_start,
        sum(case when is_session_start then 1 else 0 end) over walk_window as walked_sessions,
        last_value(
            case when is_session_start then {{ paw_hash_key(['person_id', 'event_id']) }} end
            ignore nulls
        ) over walk_window as walked_session_id,
        count(*) over walk_window as walked_events
    from session_starts
    window walk_window as (
        partition by person_id
        order by event_timestamp, event_id
        rows between unbounded preceding and current row
    )
),

final as (
    -- the walk continues the session count, session and event count of the row before it
    select
        numbered.event_id,
        numbered.person_id,
        numbered.event_timestamp,
        cast(
            coalesce(walked_before.session_number, 0) + numbered.walked_sessions as integer
        ) as session_number,
        coalesce(numbered.walked_session_id, walked_before.session_id) as session_id,
        numbered.is_session_start,
        cast(
            coalesce(walked_before.person_event_number, 0) + numbered.walked_events as bigint
        ) as person_event_number,
        {{ paw_built_at() }} as built_at
    from numbered
    left join walked_before on numbered.person_id = walked_before.person_id
)

select * from final
