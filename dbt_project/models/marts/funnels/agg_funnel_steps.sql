with

chains as not materialized (
    select * from {{ ref('int_funnel_chains') }}
),

funnel_steps as not materialized (
    select * from {{ ref('funnel_steps') }}
),

step_durations as (
    select
        funnel_name,
        person_id,
        step_number,
        {{ paw_seconds_between(
            'lag(reached_at) over (partition by funnel_name, person_id order by step_number)',
            'reached_at'
        ) }} as seconds_from_previous,
        {{ paw_seconds_between(
            'first_value(reached_at) over (partition by funnel_name, person_id order by step_number)',
            'reached_at'
        ) }} as seconds_from_start
    from chains
),

step_stats as (
    select
        funnel_name,
        step_number,
        count(distinct person_id) as users,  -- noqa: RF04
        -- quantile_cont interpolates, as median does
        quantile_cont(seconds_from_previous, 0.25) as p25_seconds_from_previous,
        median(seconds_from_previous) as median_seconds_from_previous,
        quantile_cont(seconds_from_previous, 0.75) as p75_seconds_from_previous,
        quantile_cont(seconds_from_previous, 0.9) as p90_seconds_from_previous,
        median(seconds_from_start) as median_seconds_from_start
    from step_durations
    group by funnel_name, step_number
),

with_totals as (
    select
        funnel_steps.funnel_name,
        funnel_steps.step_number,
        funnel_steps.event_name,
        coalesce(step_stats.users, 0) as users,  -- noqa: RF04
        lag(coalesce(step_stats.users, 0)) over (
            partition by funnel_steps.funnel_name order by funnel_steps.step_number
        ) as previous_users,
        first_value(coalesce(step_stats.users, 0)) over (
            partition by funnel_steps.funnel_name order by funnel_steps.step_number
        ) as start_users,
        step_stats.p25_seconds_from_previous,
        step_stats.median_seconds_from_previous,
        step_stats.p75_seconds_from_previous,
        step_stats.p90_seconds_from_previous,
        step_stats.median_seconds_from_start
    from funnel_steps
    left join step_stats
        on
            funnel_steps.funnel_name = step_stats.funnel_name
            and funnel_steps.step_number = step_stats.step_number
),

final as (
    select
        funnel_name,
        cast(step_number as integer) as step_number,
        event_name,
        users,
        case
            when previous_users is null then case when users > 0 then 1.0 end
            when previous_users > 0 then users * 1.0 / previous_users
        end as conversion_from_previous,
        case when start_users > 0 then users * 1.0 / start_users end as conversion_from_start,
        cast(median_seconds_from_previous as double) as median_seconds_from_previous,
        cast(p25_seconds_from_previous as double) as p25_seconds_from_previous,
        cast(p75_seconds_from_previous as double) as p75_seconds_from_previous,
        cast(p90_seconds_from_previous as double) as p90_seconds_from_previous,
        cast(case when step_number > 1 then median_seconds_from_start end as double)
            as median_seconds_from_start
    from with_totals
)

select * from final
