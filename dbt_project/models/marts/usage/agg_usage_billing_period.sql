{#- Usage per meter, subject and calendar month (UTC), computed over the month's events (not
    from daily values). A month is final once the data's latest event time is at least
    paw_usage_late_days days after its end: late events can no longer change it. -#}
with

metered as not materialized (
    select * from {{ ref('int_metered_events') }}
),

events as not materialized (
    select * from {{ ref('stg_events') }}
),

data_end as (
    select max(event_timestamp) as latest_event_at from events
),

periodic as (
    select
        *,
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as period_start
    from metered
    where rejection_reason is null
),

usage as (
    select
        meter_name,
        subject_type,
        subject_id,
        period_start,
        {{ paw_meter_value(
            'aggregation', 'metered_value', 'person_id', 'event_timestamp', 'event_id'
        ) }} as value,  -- noqa: RF04
        count(*) as events
    from periodic
    group by meter_name, aggregation, subject_type, subject_id, period_start
),

final as (
    select
        usage.meter_name,
        usage.subject_type,
        usage.subject_id,
        usage.period_start,
        cast({{ dbt.dateadd('month', 1, 'usage.period_start') }} as date) as period_end,
        usage.value,
        usage.events,
        data_end.latest_event_at
        >= {{ dbt.dateadd(
            'day', var('paw_usage_late_days'), dbt.dateadd('month', 1, 'usage.period_start')
        ) }} as is_final
    from usage
    cross join data_end
)

select * from final
