{#- Usage per meter, subject and UTC date, from the metered events that are counted. -#}
with

metered as not materialized (
    select * from {{ ref('int_metered_events') }}
),

final as (
    select
        meter_name,
        subject_type,
        subject_id,
        usage_date,
        {{ paw_meter_value(
            'aggregation', 'metered_value', 'person_id', 'event_timestamp', 'event_id'
        ) }} as value,  -- noqa: RF04
        count(*) as events
    from metered
    where rejection_reason is null
    group by meter_name, aggregation, subject_type, subject_id, usage_date
)

select * from final
