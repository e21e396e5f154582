{#- Engagement states (docs/semantics.md): for a person on a date d, with f their first activity
    date, l their latest activity date on or before d and a their distinct active dates in the
    paw_power_window_days days ending on d: NEW when d - f < paw_new_days, else POWER when
    d - l < paw_active_days and a >= paw_power_min_active_days, else ACTIVE when
    d - l < paw_active_days, else AT_RISK when d - l < paw_churn_days, else CHURNED.
    A person has one state on every date from f to the as-of date (the data's last activity
    date). Stored as runs of equal states (one row per run), not one row per person and date.

    Written in chunks of persons (macros/chunked_tables.sql): at 89M events its windows ran out
    of 2 GB built whole. The as-of date is every person's, not the chunk's. -#}
{{ config(paw_chunked=true) }}
with

activity as not materialized (
    select * from {{ ref('int_sessionized_activity') }} as built
    where {{ paw_in_chunk('built.person_id') }}
),

person_dates as (
    select distinct
        person_id,
        cast(event_timestamp as date) as activity_date
    from activity
),

as_of as (
    select cast(max(everyone.event_timestamp) as date) as as_of_date
    from {{ ref('int_sessionized_activity') }} as everyone
),

span_ends as (
    -- an active date leaves the ACTIVE (and POWER), AT_RISK and POWER-window spans this many
    -- days later
    select
        {{ var('paw_active_days') }} as offset_days,
        false as is_power_window
    union all
    select
        {{ var('paw_churn_days') }} as offset_days,
        false as is_power_window
    union all
    select
        {{ var('paw_power_window_days') }} as offset_days,
        true as is_power_window
),

spaced_dates as (
    select
        person_id,
        activity_date,
        lead(activity_date) over (
            partition by person_id order by activity_date
        ) as next_activity_date,
        count(*) over (partition by person_id) as active_dates
    from person_dates
),

state_changes as (
    -- a state can change only on these dates, so it is computed on them alone and holds until
    -- the next (instead of on every date of every person): an active date, the end of NEW, and
    -- the days an active date leaves the ACTIVE, POWER-window and AT_RISK spans
    select
        person_id,
        activity_date as state_date,
        true as is_active
    from person_dates
    union all
    select
        person_id,
        cast({{ dbt.dateadd('day', var('paw_new_days'), 'min(activity_date)') }} as date)
            as state_date,
        false as is_active
    from person_dates
    group by person_id
    union all
    select
        spaced_dates.person_id,
        cast(
            {{ dbt.dateadd('day', 'span_ends.offset_days', 'spaced_dates.activity_date') }} as date
        ) as state_date,
        false as is_active
    from spaced_dates
    cross join span_ends
    where
        -- only the ends that can change a state (a third of them at 10M events): an ACTIVE or
        -- AT_RISK span that the next active date has renewed by its end changes nothing then,
        -- and a POWER window's count matters only to a person with enough active dates ever
        case
            when span_ends.is_power_window
                then spaced_dates.active_dates >= {{ var('paw_power_min_active_days') }}
            else
                spaced_dates.next_activity_date is null
                or spaced_dates.next_activity_date > cast(
                    {{ dbt.dateadd('day', 'span_ends.offset_days', 'spaced_dates.activity_date') }}
                    as date
                )
        end
),

marked as (
    select
        state_changes.person_id,
        state_changes.state_date,
        -- a day number, so that a range of n rows' values is a window of n days
        {{ dbt.datediff("date '1970-01-01'", 'state_changes.state_date', 'day') }}
            as day_number,
        bool_or(state_changes.is_active) as is_active
    from state_changes
    cross join as_of
    where state_changes.state_date <= as_of.as_of_date
    group by state_changes.person_id, state_changes.state_date
),

windowed as (
    -- every active date is a row: the first row is the first activity, and a range of days
    -- counts the active dates in them
    select
        person_id,
        state_date,
        first_value(state_date) over person_days_so_far as first_date,
        max(case when is_active then state_date end) over person_days_so_far
            as last_active_date,
        count(case when is_active then 1 end) over (
            partition by person_id order by day_number
            range between {{ var('paw_power_window_days') - 1 }} preceding and current row
        ) as window_active_days
    from marked
    window person_days_so_far as (
        partition by person_id order by day_number
        rows between unbounded preceding and current row
    )
),

daily_states as (
    select
        person_id,
        state_date,
        case
            when
                {{ dbt.datediff('first_date', 'state_date', 'day') }}
                < {{ var('paw_new_days') }}
                then 'NEW'
            when
                {{ dbt.datediff('last_active_date', 'state_date', 'day') }}
                < {{ var('paw_active_days') }}
                and window_active_days >= {{ var('paw_power_min_active_days') }}
                then 'POWER'
            when
                {{ dbt.datediff('last_active_date', 'state_date', 'day') }}
                < {{ var('paw_active_days') }}
                then 'ACTIVE'
            when
                {{ dbt.datediff('last_active_date', 'state_date', 'day') }}
                < {{ var('paw_churn_days') }}
                then 'AT_RISK'
            else 'CHURNED'
        end as engagement_state
    from windowed
),

run_starts as (
    -- a run begins where the state differs from the one before
    select
        person_id,
        state_date,
        engagement_state
    from daily_states
    qualify
        engagement_state is distinct from lag(engagement_state) over (
            partition by person_id order by state_date
        )
),

final as (
    -- a run holds until the day before the next begins, or until the as-of date
    select
        run_starts.person_id,
        run_starts.engagement_state,
        run_starts.state_date as state_start_date,
        coalesce(
            cast({{ dbt.dateadd(
                'day',
                -1,
                'lead(run_starts.state_date) over ('
                ~ 'partition by run_starts.person_id order by run_starts.state_date)'
            ) }} as date),
            as_of.as_of_date
        ) as state_end_date
    from run_starts
    cross join as_of
)

select * from final
