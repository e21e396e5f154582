{#- Activity per group and date: one row per date and group with activity. -#}
with

activity as not materialized (
    select * from {{ ref('fct_events') }}
),

final as (
    select
        event_date as activity_date,
        group_id,
        count(distinct person_id) as active_persons,
        count(*) as events
    from activity
    where group_id is not null
    group by event_date, group_id
)

select * from final
