{#- Metered events that are not counted, and why (a missing or non-numeric value, no subject). -#}
with

metered as not materialized (
    select * from {{ ref('int_metered_events') }}
),

final as (
    select
        meter_name,
        event_id,
        subject_type,
        subject_id,
        event_timestamp,
        raw_value,
        rejection_reason as reason
    from metered
    where rejection_reason is not null
)

select * from final
