{#- Sessions: per person, activity in time order (ties by event id); a gap of more than
    paw_session_timeout_minutes starts a new session (a gap of exactly the timeout does not).
    A session's id hashes its person and its first event, so it is stable across rebuilds.
    Narrow on purpose: the window functions sort only these columns. -#}
with

events as (
    select * from {{ ref('stg_events') }}
),

attributed as (
    select * from {{ ref('int_events_attributed') }}
),

activity as (
    select
        events.event_id,
        attributed.person_id,
        events.event_timestamp
    from events
    inner join attributed on events.event_id = attributed.event_id
    where events.is_activity
),

gaps as (
    select
        *,
        lag(event_timestamp) over (
            partition by person_id order by event_timestamp, event_id
        ) as previous_event_at
    from activity
),

session_starts as (
    select
        *,
        previous_event_at is null
        or {{ paw_seconds_between('previous_event_at', 'event_timestamp') }}
        > {{ var('paw_session_timeout_minutes') }} * 60 as is_session_start
    from gaps
),

numbered as (
    select
        event_id,
        person_id,
        event_timestamp,
        is_session_start,
        sum(case when is_session_start then 1 else 0 end) over session_window as session_number,
        last_value(
            case when is_session_start then {{ paw_hash_key(['person_id', 'event_id']) }} end
            ignore nulls
        ) over session_window as session_id,
        row_number() over session_window as person_event_number
    from session_starts
    window session_window as (
        partition by person_id
        order by event_timestamp, event_id
        rows between unbounded preceding and current row
    )
),

final as (
    select
        event_id,
        person_id,
        event_timestamp,
        cast(session_number as integer) as session_number,
        session_id,
        is_session_start,
        person_event_number
    from numbered
)

select * from final
