{#- Churn per ISO week and per month: of the persons not CHURNED on the period's first day, the
    share CHURNED on its last day (the as-of date for the last, partial period). Periods start
    on a date with data (a period that began before the data did is not emitted). -#}
with

days as not materialized (
    select * from {{ ref('int_day_spine') }}
),

state_runs as not materialized (
    select * from {{ ref('int_engagement_states') }}
),

grains as (
    select 'week' as period_grain
    union all
    select 'month' as period_grain
),

bounds as (
    select
        min(activity_date) as first_date,
        max(activity_date) as as_of_date
    from days
),

period_starts as (
    select distinct
        grains.period_grain,
        {{ paw_period_start('grains.period_grain', 'days.activity_date') }} as period_start
    from days
    cross join grains
),

periods as (
    select
        period_starts.period_grain,
        period_starts.period_start,
        cast(
            {{ dbt.dateadd(
                'day', -1, paw_period_add('period_starts.period_grain', 'period_starts.period_start', 1)
            ) }} as date
        ) as period_last_day,
        bounds.as_of_date
    from period_starts
    cross join bounds
    where period_starts.period_start >= bounds.first_date
),

measured as (
    select
        *,
        least(period_last_day, as_of_date) as measured_on,
        period_last_day <= as_of_date as is_complete
    from periods
),

at_start as (
    select
        measured.period_grain,
        measured.period_start,
        state_runs.person_id
    from measured
    inner join state_runs
        on measured.period_start between state_runs.state_start_date and state_runs.state_end_date
    where state_runs.engagement_state != 'CHURNED'
),

churned_at_end as (
    select
        measured.period_grain,
        measured.period_start,
        state_runs.person_id
    from measured
    inner join state_runs
        on measured.measured_on between state_runs.state_start_date and state_runs.state_end_date
    where state_runs.engagement_state = 'CHURNED'
),

counts as (
    select
        at_start.period_grain,
        at_start.period_start,
        count(*) as persons_at_start,
        count(churned_at_end.person_id) as churned
    from at_start
    left join churned_at_end
        on
            at_start.period_grain = churned_at_end.period_grain
            and at_start.period_start = churned_at_end.period_start
            and at_start.person_id = churned_at_end.person_id
    group by at_start.period_grain, at_start.period_start
),

final as (
    select
        measured.period_grain,
        measured.period_start,
        coalesce(counts.persons_at_start, 0) as persons_at_start,
        coalesce(counts.churned, 0) as churned,
        case
            when counts.persons_at_start > 0 then counts.churned * 1.0 / counts.persons_at_start
        end as churn_rate,
        measured.is_complete
    from measured
    left join counts
        on
            measured.period_grain = counts.period_grain
            and measured.period_start = counts.period_start
)

select * from final
