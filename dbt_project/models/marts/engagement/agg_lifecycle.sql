{#- The lifecycle, per day and per ISO week (PostHog's statuses, keyed on activity: see
    docs/semantics.md): each person active in a period is new (their first active period),
    returning (also active in the period before) or resurrecting (not active in the period
    before, but at some time earlier); a person active in the period before but not in this
    one is dormant in this one. -#}
with

activity as not materialized (
    select * from {{ ref('fct_events') }}
),

grains as (
    select 'day' as lifecycle_grain
    union all
    select 'week' as lifecycle_grain
),

data_end as (
    select max(event_date) as last_activity_date from activity
),

active_periods as (
    select distinct
        grains.lifecycle_grain,
        activity.person_id,
        {{ paw_period_start('grains.lifecycle_grain', 'activity.event_date') }} as period_start
    from activity
    cross join grains
),

with_history as (
    select
        *,
        min(period_start) over (partition by lifecycle_grain, person_id) as first_period,
        lag(period_start) over (
            partition by lifecycle_grain, person_id order by period_start
        ) as previous_active_period,
        lead(period_start) over (
            partition by lifecycle_grain, person_id order by period_start
        ) as next_active_period
    from active_periods
),

active_statuses as (
    select
        lifecycle_grain,
        period_start,
        person_id,
        case
            when period_start = first_period then 'new'
            when
                previous_active_period
                = {{ paw_period_add('lifecycle_grain', 'period_start', -1) }} then 'returning'
            else 'resurrecting'
        end as status
    from with_history
),

dormant_statuses as (
    select
        with_history.lifecycle_grain,
        {{ paw_period_add('with_history.lifecycle_grain', 'with_history.period_start', 1) }}
            as period_start,
        with_history.person_id,
        'dormant' as status
    from with_history
    cross join data_end
    where
        (
            with_history.next_active_period is null
            or with_history.next_active_period
            > {{ paw_period_add('with_history.lifecycle_grain', 'with_history.period_start', 1) }}
        )
        and {{ paw_period_add('with_history.lifecycle_grain', 'with_history.period_start', 1) }}
        <= data_end.last_activity_date
),

statuses as (
    select * from active_statuses
    union all
    select * from dormant_statuses
),

final as (
    select
        lifecycle_grain,
        period_start,
        count(case when status = 'new' then 1 end) as new_persons,
        count(case when status = 'returning' then 1 end) as returning_persons,
        count(case when status = 'resurrecting' then 1 end) as resurrecting_persons,
        count(case when status = 'dormant' then 1 end) as dormant_persons
    from statuses
    group by lifecycle_grain, period_start
)

select * from final
