with

activity as (
    select * from {{ ref('fct_events') }}
),

days as (
    select * from {{ ref('int_day_spine') }}
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

final as (
    select
        rolling.activity_date,
        rolling.dau,
        rolling.wau,
        rolling.mau,
        case when rolling.mau > 0 then rolling.dau * 1.0 / rolling.mau end as stickiness,
        coalesce(new_persons.new_persons, 0) as new_persons
    from rolling
    left join new_persons on rolling.activity_date = new_persons.activity_date
)

select * from final
