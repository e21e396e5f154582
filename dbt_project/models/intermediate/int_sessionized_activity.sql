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

walk as (
    select
        event_id,
        person_id,
        event_timestamp,
        false as is_walked_before,
        null as session_number_before,
        null as session_id_before,
        null as person_event_number_before
    from activity_to_walk
    union all
    select
        event_id,
        person_id,
        event_timestamp,
        true as is_walked_before,
        session_number as session_number_before,
        session_id as session_id_before,
        person_event_number as person_event_number_before
    from walked_before
),

gaps as (
    select
        *,
        lag(event_timestamp) over (
            partition by person_id order by event_timestamp, event_id
        ) as previous_event_at
    from walk
),

session_starts as (
    select
        *,
        not is_walked_before
        and (
            previous_event_at is null
            or {{ paw_seconds_between('previous_event_at', 'event_timestamp') }}
            > {{ var('paw_session_timeout_minutes') }} * 60
        ) as is_session_start
    from gaps
),

numbered as (
    select
        event_id,
        person_id,
        event_timestamp,
        is_walked_before,
        is_session_start,
        sum(
            case
                when is_walked_before then session_number_before
                when is_session_start then 1
                else 0
            end
        ) over walk_window as session_number,
        last_value(
            case
                when is_walked_before then session_id_before
                when is_session_start then {{ paw_hash_key(['person_id', 'event_id']) }}
            end
            ignore nulls
        ) over walk_window as session_id,
        sum(
            case when is_walked_before then person_event_number_before else 1 end
        ) over walk_window as person_event_number
    from session_starts
    window walk_window as (
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
        cast(person_event_number as bigint) as person_event_number,
        {{ paw_built_at() }} as built_at
    from numbered
    where not is_walked_before
)

select * from final
