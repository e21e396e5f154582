{#- Cohort retention by day, ISO week and month, for each definition of
    seeds/retention_definitions.csv. first_time: a person's cohort is the period of their first
    cohort event (empty: any activity). recurring: a person enters a cohort for every period in
    which they did the cohort event. Either way they are retained in period n of a cohort when
    they have a return event (empty: any activity) in the n-th period after it. Periods that
    start after the last activity date are not emitted; a period that ends after it is
    incomplete. -#}
with

activity as not materialized (
    select * from {{ ref('fct_events') }}
),

definitions as (
    select
        retention_name,
        nullif(trim(cohort_event), '') as cohort_event,
        nullif(trim(return_event), '') as return_event,
        coalesce(nullif(trim(retention_type), ''), 'first_time') as retention_type
    from {{ ref('retention_definitions') }}
),

grains as (
    select 'day' as cohort_grain
    union all
    select 'week' as cohort_grain
    union all
    select 'month' as cohort_grain
),

data_end as (
    select max(event_date) as last_activity_date from activity
),

person_dates as (
    -- each person's active dates once, with the names of their events there that a definition
    -- names: one pass over the events for both the cohorts and the returns (at 10M events,
    -- 2.5 -> 2.1 s against a distinct pass for each)
    select
        activity.person_id,
        activity.event_date,
        list(distinct activity.event_name) filter (
            where activity.event_name in (
                select definitions.cohort_event from definitions
                union all
                select definitions.return_event from definitions
            )
        ) as event_names
    from activity
    group by activity.person_id, activity.event_date
),

cohort_events as (
    -- one row per definition, person and date: person_dates has one per person and date
    select
        definitions.retention_name,
        definitions.retention_type,
        person_dates.person_id,
        person_dates.event_date
    from person_dates
    inner join definitions
        on
            definitions.cohort_event is null
            or list_contains(person_dates.event_names, definitions.cohort_event)
),

return_days as (
    select
        definitions.retention_name,
        person_dates.person_id,
        person_dates.event_date
    from person_dates
    inner join definitions
        on
            definitions.return_event is null
            or list_contains(person_dates.event_names, definitions.return_event)
),

first_days as (
    select
        retention_name,
        person_id,
        min(event_date) as event_date
    from cohort_events
    where retention_type = 'first_time'
    group by retention_name, person_id
),

entry_days as (
    select
        retention_name,
        person_id,
        event_date
    from first_days
    union all
    select
        retention_name,
        person_id,
        event_date
    from cohort_events
    where retention_type = 'recurring'
),

person_cohorts as not materialized (
    -- read twice (cohort sizes, returns): computed twice rather than held whole in memory,
    -- which DuckDB does with a CTE it materializes (at 10M events this model then needed more
    -- than 250 MB; 120 MB is enough this way)
    select distinct
        entry_days.retention_name,
        entry_days.person_id,
        grains.cohort_grain,
        {{ paw_period_start('grains.cohort_grain', 'entry_days.event_date') }} as cohort_start
    from entry_days
    cross join grains
),

person_returns as (
    select distinct
        person_cohorts.retention_name,
        person_cohorts.cohort_grain,
        person_cohorts.cohort_start,
        person_cohorts.person_id,
        {{ paw_periods_between(
            'person_cohorts.cohort_grain',
            'person_cohorts.cohort_start',
            paw_period_start('person_cohorts.cohort_grain', 'return_days.event_date')
        ) }} as period_number
    from person_cohorts
    inner join return_days
        on
            person_cohorts.retention_name = return_days.retention_name
            and person_cohorts.person_id = return_days.person_id
    where return_days.event_date >= person_cohorts.cohort_start
),

cohort_sizes as (
    select
        retention_name,
        cohort_grain,
        cohort_start,
        count(*) as cohort_size
    from person_cohorts
    group by retention_name, cohort_grain, cohort_start
),

retained as (
    select
        retention_name,
        cohort_grain,
        cohort_start,
        period_number,
        -- person_returns holds each person once per cohort and period
        count(*) as retained_users
    from person_returns
    group by retention_name, cohort_grain, cohort_start, period_number
),

cohort_periods as (
    select
        cohort_sizes.retention_name,
        cohort_sizes.cohort_grain,
        cohort_sizes.cohort_start,
        cohort_sizes.cohort_size,
        spine.n as period_number,
        {{ paw_period_add('cohort_sizes.cohort_grain', 'cohort_sizes.cohort_start', 'spine.n') }}
            as period_start
    from cohort_sizes
    cross join {{ paw_integer_spine(10000) }} as spine
    cross join data_end
    where
        {{ paw_period_has_started(
            'cohort_sizes.cohort_grain',
            'cohort_sizes.cohort_start',
            'spine.n',
            'data_end.last_activity_date'
        ) }}
),

final as (
    select
        cohort_periods.retention_name,
        cohort_periods.cohort_grain,
        cohort_periods.cohort_start,
        cohort_periods.period_number,
        cohort_periods.cohort_size,
        coalesce(retained.retained_users, 0) as retained_users,
        coalesce(retained.retained_users, 0) * 1.0 / cohort_periods.cohort_size as retention_rate,
        {{ paw_period_is_complete(
            'cohort_periods.cohort_grain', 'cohort_periods.period_start', 'data_end.last_activity_date'
        ) }} as is_complete
    from cohort_periods
    cross join data_end
    left join retained
        on
            cohort_periods.retention_name = retained.retention_name
            and cohort_periods.cohort_grain = retained.cohort_grain
            and cohort_periods.cohort_start = retained.cohort_start
            and cohort_periods.period_number = retained.period_number
)

select * from final
