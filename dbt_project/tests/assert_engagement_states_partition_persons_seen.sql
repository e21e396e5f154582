{#- On every date the five states add up to the persons whose first activity is on or before
    it: nobody is missing and nobody is counted twice. -#}
with

states as (
    select * from {{ ref('agg_engagement_states') }}
),

activity as (
    select * from {{ ref('fct_events') }}
),

first_dates as (
    select
        person_id,
        min(event_date) as first_date
    from activity
    group by person_id
),

state_totals as (
    select
        activity_date,
        sum(persons) as persons_in_states
    from states
    group by activity_date
),

persons_seen as (
    select
        state_totals.activity_date,
        state_totals.persons_in_states,
        count(first_dates.person_id) as persons_seen
    from state_totals
    left join first_dates on state_totals.activity_date >= first_dates.first_date
    group by state_totals.activity_date, state_totals.persons_in_states
),

final as (
    select *
    from persons_seen
    where persons_in_states != persons_seen
)

select * from final
