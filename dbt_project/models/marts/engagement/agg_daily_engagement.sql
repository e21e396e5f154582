with

activity as (
    select * from {{ ref('fct_events') }}
),

days as (
    select * from {{ ref('int_day_spine') }}
),

sessions as (
    select * from {{ ref('fct_sessions') }}
),

person_days as (
    select distinct
        person_id,
        event_date as activity_date
    from activity
),

first_days as (
    select
        person_id,
        min(activity_date) as first_date
    from person_days
    group by person_id
),

rolling as (
    select
        days.activity_date,
        count(distinct case
            when person_days.activity_date = days.activity_date
                then person_days.person_id
        end) as dau,
        count(distinct case
            when
                person_days.activity_date
                >= {{ dbt.dateadd('day', -6, 'days.activity_date') }}
                then person_days.person_id
        end) as wau,
        count(distinct person_days.person_id) as mau
    from days
    left join person_days
        on
            days.activity_date >= person_days.activity_date
            and person_days.activity_date >= {{ dbt.dateadd('day', -29, 'days.activity_date') }}
    group by days.activity_date
),

new_persons as (
    select
        first_date as activity_date,
        count(*) as new_persons
    from first_days
    group by first_date
),

daily_sessions as (
    select
        cast(session_start as date) as activity_date,
        count(*) as sessions,
        count(case when is_bounce then 1 end) as bounced_sessions
    from sessions
    group by cast(session_start as date)
),

final as (
    select
        rolling.activity_date,
        rolling.dau,
        rolling.wau,
        rolling.mau,
        case when rolling.mau > 0 then rolling.dau * 1.0 / rolling.mau end as stickiness,
        coalesce(new_persons.new_persons, 0) as new_persons,
        coalesce(daily_sessions.sessions, 0) as sessions,
        coalesce(daily_sessions.bounced_sessions, 0) as bounced_sessions,
        case
            when daily_sessions.sessions > 0
                then daily_sessions.bounced_sessions * 1.0 / daily_sessions.sessions
        end as bounce_rate,
        -- active today and on some earlier date: everyone active but the new
        rolling.dau - coalesce(new_persons.new_persons, 0) as returning_persons,
        case
            when rolling.dau > 0
                then (rolling.dau - coalesce(new_persons.new_persons, 0)) * 1.0 / rolling.dau
        end as return_rate
    from rolling
    left join new_persons on rolling.activity_date = new_persons.activity_date
    left join daily_sessions on rolling.activity_date = daily_sessions.activity_date
)

select * from final
