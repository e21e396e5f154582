{#- Funnel conversion by the day and ISO week persons entered (their best chain's step 1), on
    every period from the first activity date to the last. A period is complete once the
    conversion window of each of its entrants has closed by the latest activity. -#}
with

progress as not materialized (
    select * from {{ ref('fct_funnel_progress') }}
),

funnels as not materialized (
    select * from {{ ref('stg_funnels') }}
),

days as not materialized (
    select * from {{ ref('int_day_spine') }}
),

activity as not materialized (
    select * from {{ ref('int_sessionized_activity') }}
),

grains as (
    select 'day' as period_grain
    union all
    select 'week' as period_grain
),

data_end as (
    select max(event_timestamp) as latest_activity_at from activity
),

periods as (
    select distinct
        funnels.funnel_name,
        funnels.conversion_window_seconds,
        grains.period_grain,
        {{ paw_period_start('grains.period_grain', 'days.activity_date') }} as period_start
    from funnels
    cross join grains
    cross join days
),

entries as (
    select
        progress.funnel_name,
        grains.period_grain,
        {{ paw_period_start('grains.period_grain', 'cast(progress.entered_at as date)') }}
            as period_start,
        count(*) as entered,
        count(*) filter (where progress.converted) as converted,
        max(progress.entered_at) as last_entered_at
    from progress
    cross join grains
    group by all
),

final as (
    select
        periods.funnel_name,
        periods.period_grain,
        periods.period_start,
        coalesce(entries.entered, 0) as entered,
        coalesce(entries.converted, 0) as converted,
        case when entries.entered > 0 then entries.converted * 1.0 / entries.entered end
            as conversion_rate,
        coalesce(
            {{ paw_seconds_between('entries.last_entered_at', 'data_end.latest_activity_at') }}
            >= periods.conversion_window_seconds,
            true
        ) as is_complete
    from periods
    cross join data_end
    left join entries
        on
            periods.funnel_name = entries.funnel_name
            and periods.period_grain = entries.period_grain
            and periods.period_start = entries.period_start
)

select * from final
