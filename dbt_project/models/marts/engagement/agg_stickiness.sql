{#- PostHog's stickiness: per ISO week and month, how many persons were active on exactly k
    distinct dates of the period (k >= 1; counts of zero persons are not emitted). -#}
with

activity as not materialized (
    select * from {{ ref('fct_events') }}
),

grains as (
    select 'week' as period_grain
    union all
    select 'month' as period_grain
),

person_dates as (
    -- each person's active dates once, before the grains multiply them (9M events are 1.6M
    -- person-dates at 10M events)
    select distinct
        person_id,
        event_date
    from activity
),

person_periods as (
    select
        grains.period_grain,
        {{ paw_period_start('grains.period_grain', 'person_dates.event_date') }} as period_start,
        person_dates.person_id,
        count(*) as active_days
    from person_dates
    cross join grains
    group by
        grains.period_grain,
        {{ paw_period_start('grains.period_grain', 'person_dates.event_date') }},
        person_dates.person_id
),

final as (
    select
        period_grain,
        period_start,
        cast(active_days as integer) as active_days,
        count(*) as persons
    from person_periods
    group by period_grain, period_start, active_days
)

select * from final
