{#- Every event a meter of seeds/meters.csv counts (its namespace and event name), with its
    subject (the event's group, or its person) and its value: the value property parsed as an
    exact DECIMAL. An event without a subject, or without a usable value where the meter needs
    one, is rejected with its reason, never counted as 0 (docs/semantics.md, usage).

    Incremental: an event's rows (one per meter that counts it) depend on the event, its person
    and its group alone. A build writes again the metered events whose int_event_groups row is
    newer than its own (new, or moved to another person or group), replacing their rows. -#}
{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}
with

events as not materialized (
    select * from {{ ref('stg_events') }}
),

event_groups as not materialized (
    -- the events new, or moved to another person or group, since this model's last build
    {{ paw_rows_since_last_build(ref('int_event_groups')) }}
),

meters as not materialized (
    select * from {{ ref('meters') }}
),

matched as (
    select
        meters.meter_name,
        meters.aggregation,
        meters.subject as subject_type,
        events.event_id,
        events.event_timestamp,
        event_groups.person_id,
        case meters.subject
            when 'group' then event_groups.group_id
            when 'person' then event_groups.person_id
        end as subject_id,
        case
            when meters.aggregation in {{ paw_valued_aggregations() }}
                then trim({{ paw_json_text_at('events.properties', 'meters.value_property') }})
        end as raw_value
    from events
    inner join meters
        on events.namespace = meters.namespace and events.event_name = meters.event_name
    inner join event_groups on events.event_id = event_groups.event_id
),

judged as (
    select
        *,
        try_cast(raw_value as decimal(38, 9)) as metered_value,
        case
            when subject_id is null then 'missing_subject'
            when aggregation not in {{ paw_valued_aggregations() }} then null
            when raw_value is null or raw_value = '' then 'missing_value'
            when try_cast(raw_value as decimal(38, 9)) is null then 'not_a_number'
        end as rejection_reason
    from matched
),

final as (
    select
        meter_name,
        aggregation,
        subject_type,
        subject_id,
        event_id,
        event_timestamp,
        cast(event_timestamp as date) as usage_date,
        person_id,
        raw_value,
        metered_value,
        rejection_reason,
        {{ paw_built_at() }} as built_at
    from judged
)

select * from final
