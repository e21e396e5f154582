with

activity as not materialized (
    select * from {{ ref('fct_events') }}
),

days as not materialized (
    select * from {{ ref('int_day_spine') }}
),

sessions as not materialized (
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

person_day_spans as (
    -- a person counts in the WAU (MAU) of every date from an active date until 6 (29) days
    -- later or until their next active date, whichever comes first: one person's spans never
    -- overlap, so a date's WAU (MAU) is the spans begun by then less the spans ended by then,
    -- a running sum over the few distinct dates instead of a join of every date to 30 days
    select
        person_id,
        activity_date,
        lead(activity_date) over (
            partition by person_id order by activity_date
        ) as next_activity_date
    from person_days
),

coverage_changes as (
    select
        activity_date as change_date,
        1 as wau_change,
        1 as mau_change
    from person_day_spans
    union all
    select
        -- least skips a null: a person's last span runs its full length
        least(
            cast({{ dbt.dateadd('day', 7, 'activity_date') }} as date), next_activity_date
        ) as change_date,
        -1 as wau_change,
        0 as mau_change
    from person_day_spans
    union all
    select
        least(
            cast({{ dbt.dateadd('day', 30, 'activity_date') }} as date), next_activity_date
        ) as change_date,
        0 as wau_change,
        -1 as mau_change
    from person_day_spans
),

daily_changes as (
    select
        change_date,
        sum(wau_change) as wau_change,
        sum(mau_change) as mau_change
    from coverage_changes
    group by change_date
),

daily_active as (
    select
        activity_date,
        count(*) as dau
    from person_days
    group by activity_date
),

rolling as (
    select
        days.activity_date,
        coalesce(daily_active.dau, 0) as dau,
        cast(coalesce(sum(daily_changes.wau_change), 0) as bigint) as wau,
        cast(coalesce(sum(daily_changes.mau_change), 0) as bigint) as mau
    from days
    left join daily_active on days.activity_date = daily_active.activity_date
    left join daily_changes on days.activity_date >= daily_changes.change_date
    group by days.activity_date, daily_active.dau
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
