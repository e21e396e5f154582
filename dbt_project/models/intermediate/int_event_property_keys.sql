{#- The property keys each ingestion run's events carry, counted per namespace, event type,
    event name, key and JSON type: the part of the event catalog that adds up over runs, so that
    each event's properties are parsed once, in the build that stages it (docs/semantics.md).

    Incremental: a build counts the events staged since its last build (their runs are new, or
    staged again after a full refresh of stg_events) and replaces those runs' rows; it forgets
    the rows of runs no longer committed in the lake, as stg_events does. -#}
{{ config(
    materialized='incremental',
    unique_key='run_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    pre_hook="{{ paw_unstage_uncommitted_runs() }}",
) }}
with

events as not materialized (
    select * from {{ ref('stg_events') }}
    {%- if is_incremental() %}
    where built_at > {{ paw_watermark() }}
    {%- endif %}
),

property_keys as (
    select
        events.run_id,
        events.namespace,
        events.event_type,
        events.event_name,
        property_entries.key as property_key,
        {{ paw_json_type_name('property_entries.type') }} as json_type,
        count(*) as carrying_events
    from events,
        {{ paw_json_entries('events.properties') }} as property_entries
    where events.properties is not null
    group by
        events.run_id,
        events.namespace,
        events.event_type,
        events.event_name,
        property_entries.key,
        json_type
),

final as (
    select
        *,
        {{ paw_built_at() }} as built_at
    from property_keys
)

select * from final
