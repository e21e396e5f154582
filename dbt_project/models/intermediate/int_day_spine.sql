{#- Every date from the first to the last activity date. -#}
with

activity as not materialized (
    select * from {{ ref('int_sessionized_activity') }}
),

bounds as (
    select
        cast(min(event_timestamp) as date) as first_date,
        cast(max(event_timestamp) as date) as last_date
    from activity
),

final as (
    select cast({{ dbt.dateadd('day', 'spine.n', 'bounds.first_date') }} as date) as activity_date
    from bounds
    cross join {{ paw_integer_spine(100000) }} as spine
    where spine.n <= {{ dbt.datediff('bounds.first_date', 'bounds.last_date', 'day') }}
)

select * from final
