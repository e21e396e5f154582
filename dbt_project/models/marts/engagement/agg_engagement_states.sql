{#- Persons in each engagement state on every date: all five states on every date, 0 allowed. -#}
with

days as not materialized (
    select * from {{ ref('int_day_spine') }}
),

states as not materialized (
    select * from {{ ref('engagement_states') }}
),

state_runs as not materialized (
    select * from {{ ref('int_engagement_states') }}
),

counts as (
    select
        days.activity_date,
        state_runs.engagement_state,
        count(*) as persons
    from days
    inner join state_runs
        on days.activity_date between state_runs.state_start_date and state_runs.state_end_date
    group by days.activity_date, state_runs.engagement_state
),

final as (
    select
        days.activity_date,
        states.engagement_state as state,
        coalesce(counts.persons, 0) as persons
    from days
    cross join states
    left join counts
        on
            days.activity_date = counts.activity_date
            and states.engagement_state = counts.engagement_state
)

select * from final
