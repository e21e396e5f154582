{#- Every activity event that matches a funnel step (an event may match several steps).

    Incremental: a build replaces every row of the persons whose activity changed
    (paw_changed_persons), their whole history, since their later events' numbers move. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='paw_replace_persons',
    on_schema_change='fail',
) }}
-- depends_on: {{ ref('int_events_attributed') }}
with

events as not materialized (
    select * from {{ ref('stg_events') }}
),

{% if is_incremental() %}
activity as (
    {{ paw_rows_changed(ref('int_sessionized_activity')) }}
),
{% else %}
activity as not materialized (
    select * from {{ ref('int_sessionized_activity') }}
),
{% endif %}

funnel_steps as not materialized (
    select * from {{ ref('funnel_steps') }}
),

matching_events as (
    select
        funnel_steps.funnel_name,
        funnel_steps.step_number,
        events.event_id
    from events
    inner join funnel_steps on events.event_name = funnel_steps.event_name
    where
        events.is_activity
        and (
            funnel_steps.property_name is null
            or {{ paw_json_text_at('events.properties', 'funnel_steps.property_name') }}
            = funnel_steps.property_value
        )
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
