{#- Every activity event that matches a funnel step (an event may match several steps).

    Incremental: a build matches the activity events whose int_sessionized_activity row is
    newer than its own rows (new, re-attributed, or renumbered by an earlier event arriving
    late: the walk rewrites exactly those), and replaces their rows. Whether an event matches a
    step never changes; its person and number can. -#}
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

{% if is_incremental() %}
activity as not materialized (
    select * from {{ ref('int_sessionized_activity') }} as walked
    where walked.built_at > {{ paw_watermark() }}
),

events_to_match as (
    -- a semi-join first: the property of a step is read only from the events walked again
    select * from events
    where events.event_id in (select activity.event_id from activity)
),
{% else %}
activity as not materialized (
    select * from {{ ref('int_sessionized_activity') }}
),

events_to_match as not materialized (
    select * from events
),
{% endif %}

funnel_steps as not materialized (
    select * from {{ ref('funnel_steps') }}
),

step_lookups as (
    -- what the steps read of an event of each name: nothing, or a property. An event is
    -- parsed once per property, not once per step that reads it (three steps of the sample
    -- funnels read page_viewed's path)
    select distinct
        event_name,
        property_name
    from funnel_steps
),

looked_up_events as (
    select
        events.event_id,
        events.event_name,
        step_lookups.property_name,
        case
            when step_lookups.property_name is not null
                then {{ paw_json_text_at('events.properties', 'step_lookups.property_name') }}
        end as property_value
    from events_to_match as events
    inner join step_lookups on events.event_name = step_lookups.event_name
    where events.is_activity
),

matching_events as (
    select
        funnel_steps.funnel_name,
        funnel_steps.step_number,
        looked_up_events.event_id
    from looked_up_events
    inner join funnel_steps
        on
            looked_up_events.event_name = funnel_steps.event_name
            and looked_up_events.property_name is not distinct from funnel_steps.property_name
    where
        funnel_steps.property_name is null
        or looked_up_events.property_value = funnel_steps.property_value
),

final as (
    select
        matching_events.funnel_name,
        matching_events.step_number,
        activity.person_id,
        matching_events.event_id,
        activity.event_timestamp,
        activity.person_event_number,
        {{ paw_built_at() }} as built_at
    from matching_events
    inner join activity on matching_events.event_id = activity.event_id
)

select * from final
