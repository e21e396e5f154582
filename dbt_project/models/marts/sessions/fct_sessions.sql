{#- Incremental: a build replaces the sessions it changed (paw_changed_sessions), and removes
    those that no longer exist. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='paw_replace_sessions',
    paw_session_rows_end_at='session_end',
    on_schema_change='fail',
    paw_chunked=true,
    paw_order_by=['session_end'],
) }}
-- the changed persons and sessions of an incremental build are read from these two
-- depends_on: {{ ref('int_events_attributed') }}
-- depends_on: {{ ref('int_sessionized_activity') }}
with

{% if is_incremental() %}
events as (
    {{ paw_rows_changed(ref('fct_events'), by='session_id') }}
),
{% else %}
-- a full build is written in chunks of persons (macros/chunked_tables.sql): at 89M events the
-- sessions' first-by and last-by aggregates ran out of 2 GB built whole. The events carry
-- their session number and place in their person's activity (person_event_number): joined
-- here from int_sessionized_activity, they took 1.6 of the model's 5.3 s at 10M events
events as not materialized (
    select * from {{ ref('fct_events') }} as built
    where {{ paw_in_chunk('built.person_id') }}
),
{% endif %}

{%- set first_event_fields -%}
    {
        'referrer': referrer,
        'utm_source': utm_source,
        'utm_medium': utm_medium,
        'utm_campaign': utm_campaign,
        'device_type': device_type,
        'os_name': os_name,
        'browser_name': browser_name
    }
{%- endset %}
sessions as (
    select
        session_id,
        person_id,
        min(session_number) as session_number,
        min(event_timestamp) as session_start,
        max(event_timestamp) as session_end,
        count(*) as event_count,
        -- by the call's type, as paths: a track event may be named page_viewed too
        count(case when event_type = 'page' then 1 end) as page_view_count,
        {{ paw_first_by('page_path', 'person_event_number') }}
        filter (where event_type in ('page', 'screen')) as landing_page,
        {{ paw_last_by('page_path', 'person_event_number') }}
        filter (where event_type in ('page', 'screen')) as exit_page,
        -- the first event's fields as one value: one aggregate where seven took 7% longer
        {{ paw_first_by(first_event_fields, 'person_event_number') }} as first_event
    from events
    group by session_id, person_id
),

final as (
    select
        session_id,
        person_id,
        session_number,
        session_start,
        session_end,
        {{ paw_seconds_between('session_start', 'session_end') }} as duration_seconds,
        event_count,
        page_view_count,
        landing_page,
        exit_page,
        first_event.referrer,
        first_event.utm_source,
        first_event.utm_medium,
        first_event.utm_campaign,
        event_count = 1 as is_bounce,
        first_event.device_type,
        first_event.os_name,
        first_event.browser_name,
        {{ paw_built_at() }} as built_at
    from sessions
)

select * from final
