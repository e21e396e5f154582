{#- Every activity event that matches a funnel step (an event may match several steps), and
    every one that an exclusion of a funnel names (seeds/funnel_exclusions.csv): int_funnel_chains
    reads a person's exclusion events here, where it joined their whole activity to the events
    to find them (a 10M nightly: its query 4.0-4.2 -> 3.0-3.1 s).

    Incremental: a build matches the activity events whose int_sessionized_activity row is
    newer than its own rows (new, re-attributed, or renumbered by an earlier event arriving
    late: the walk rewrites exactly those). Whether an event matches a step, or an exclusion
    names it, never changes; its person and number can: the rows of an event already matched
    are updated in place (paw_upsert, several rows per event), where deleting and inserting
    them left deleted rows all over the table to compact (at 10M events the nightly's 18,752
    rewritten rows of 5.4M cost a 0.7 s delete and a 0.9 s compaction). -#}
{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='paw_upsert',
    paw_rows_per_key='several',
    paw_updated_columns=['person_id', 'person_event_number'],
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
    -- (activity events all). No filter on the events beside it: DuckDB then estimated the
    -- events fewer than the walked ones and hashed the events to probe them (at 10M events
    -- 1.8-2.9 s instead of 0.8-0.9 s)
    select events.* from events
    semi join activity on events.event_id = activity.event_id
),
{% else %}
activity as not materialized (
    select * from {{ ref('int_sessionized_activity') }}
),

events_to_match as not materialized (
    select * from events
    where events.is_activity
),
{% endif %}

funnel_steps as not materialized (
    select * from {{ ref('funnel_steps') }}
),

exclusions as not materialized (
    select * from {{ ref('funnel_exclusions') }}
),

matchers as (
    -- what an event is matched against: each step (its event name, and a property's value
    -- when it names one) and each exclusion (its event name). One relation, so that the events
    -- below are matched in one pass: matched against the exclusions apart, they were read
    -- twice, which DuckDB did by holding all of them (8.8M rows at 10M events, 1.7-2.0 s more)
    select
        funnel_name,
        step_number,
        cast(null as integer) as exclusion_from_step,
        cast(null as integer) as exclusion_to_step,
        event_name,
        property_name,
        property_value
    from funnel_steps
    union all
    select
        funnel_name,
        cast(null as integer) as step_number,
        from_step as exclusion_from_step,
        to_step as exclusion_to_step,
        event_name,
        cast(null as varchar) as property_name,
        cast(null as varchar) as property_value
    from exclusions
),

lookups as (
    -- what the matchers read of an event of each name: nothing, or a property. An event is
    -- parsed once per property, not once per step that reads it (three steps of the sample
    -- funnels read page_viewed's path)
    select distinct
        event_name,
        property_name
    from matchers
),

looked_up_events as (
    select
        events.event_id,
        events.event_name,
        lookups.property_name,
        case
            when lookups.property_name is not null
                then {{ paw_json_text_at('events.properties', 'lookups.property_name') }}
        end as property_value
    from events_to_match as events
    inner join lookups on events.event_name = lookups.event_name
),

matching_events as (
    select
        matchers.funnel_name,
        matchers.step_number,
        matchers.exclusion_from_step,
        matchers.exclusion_to_step,
        looked_up_events.event_id
    from looked_up_events
    inner join matchers
        on
            looked_up_events.event_name = matchers.event_name
            and looked_up_events.property_name is not distinct from matchers.property_name
    where
        matchers.property_name is null
        or looked_up_events.property_value = matchers.property_value
),

final as (
    select
        matching_events.funnel_name,
        matching_events.step_number,
        matching_events.exclusion_from_step,
        matching_events.exclusion_to_step,
        activity.person_id,
        matching_events.event_id,
        activity.event_timestamp,
        activity.person_event_number,
        {{ paw_built_at() }} as built_at
    from matching_events
    inner join activity on matching_events.event_id = activity.event_id
)

select * from final
