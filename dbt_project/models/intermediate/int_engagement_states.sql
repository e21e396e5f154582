{#- Engagement states (docs/semantics.md): for a person on a date d, with f their first activity
    date, l their latest activity date on or before d and a their distinct active dates in the
    paw_power_window_days days ending on d: NEW when d - f < paw_new_days, else POWER when
    d - l < paw_active_days and a >= paw_power_min_active_days, else ACTIVE when
    d - l < paw_active_days, else AT_RISK when d - l < paw_churn_days, else CHURNED.
    A person has one state on every date from f to the as-of date (the data's last activity
    date). Stored as runs of equal states (one row per run), not one row per person and date. -#}
with

activity as (
    select * from {{ ref('int_sessionized_activity') }}
),

person_dates as (
    select distinct
        person_id,
        cast(event_timestamp as date) as activity_date
    from activity
),

as_of as (
    select max(activity_date) as as_of_date from person_dates
),

first_dates as (
    select
        person_id,
        min(activity_date) as first_date
    from person_dates
    group by person_id
),

person_spine as (
    select
        first_dates.person_id,
        first_dates.first_date,
        {{ paw_date_series('first_dates.first_date', 'as_of.as_of_date') }} as state_date
    from first_dates
    cross join as_of
),

marked as (
    select
        person_spine.person_id,
        person_spine.first_date,
        person_spine.state_date,
        person_dates.activity_date is not null as is_active
    from person_spine
    left join person_dates
        on
            person_spine.person_id = person_dates.person_id
            and person_spine.state_date = person_dates.activity_date
),

windowed as (
    -- the spine is dense per person, so a frame of n rows is a window of n days
    select
        person_id,
        first_date,
        state_date,
        max(case when is_active then state_date end) over (
            partition by person_id order by state_date
            rows between unbounded preceding and current row
        ) as last_active_date,
        count(case when is_active then 1 end) over (
            partition by person_id order by state_date
            rows between {{ var('paw_power_window_days') - 1 }} preceding and current row
        ) as window_active_days
    from marked
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

runs as (
    -- gaps and islands: dates minus their rank within (person, state) is constant in a run
    select
        person_id,
        engagement_state,
        state_date,
        {{ dbt.dateadd(
            'day',
            '-1 * row_number() over (partition by person_id, engagement_state order by state_date)',
            'state_date'
        ) }} as run_key
    from daily_states
),

final as (
    select
        person_id,
        engagement_state,
        cast(min(state_date) as date) as state_start_date,
        cast(max(state_date) as date) as state_end_date
    from runs
    group by person_id, engagement_state, run_key
)

select * from final
