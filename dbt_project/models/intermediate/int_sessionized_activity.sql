{#- Sessions: per person, activity in time order; a gap of more than
    paw_session_timeout_minutes starts a new session (a gap of exactly the timeout does not).
    A session's id hashes its person and its first event, so it is stable across rebuilds. -#}
with

activity as (
    select * from {{ ref('int_activity_events') }}
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
        case
            when previous_event_at is null then 1
            when {{ paw_seconds_between('previous_event_at', 'event_timestamp') }}
                > {{ var('paw_session_timeout_minutes') }} * 60 then 1
            else 0
        end as is_session_start
    from gaps
),

numbered as (
    select
        *,
        sum(is_session_start) over (
            partition by person_id
            order by event_timestamp, event_id
            rows between unbounded preceding and current row
        ) as session_number
    from session_starts
),

final as (
    select
        *,
        {{ paw_hash_key(['person_id', "first_value(event_id) over (partition by person_id, session_number order by event_timestamp, event_id)"]) }}
            as session_id,
        row_number() over (
            partition by person_id, session_number order by event_timestamp, event_id
        ) as event_number_in_session
    from numbered
)

select * from final
