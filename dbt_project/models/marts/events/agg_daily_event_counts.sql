with

activity as not materialized (
    select * from {{ ref('fct_events') }}
),

final as (
    select
        event_date,
        namespace,
        event_name,
        count(*) as events,
        count(distinct person_id) as persons
    from activity
    group by event_date, namespace, event_name
)

select * from final
