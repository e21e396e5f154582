{#- Paths (docs/semantics.md): each session's activity in time order (ties by event id) as
    nodes: the event name, or `page:` / `screen:` and the cleaned page path or screen name.
    Page paths are cleaned by the rules of seeds/path_cleaning.csv, applied in rule_order.
    Consecutive repeats of a node collapse into one: one row per collapsed run, numbered from
    1 within its session, with the run's first and last event times and its step to the next
    run of the session.

    Incremental: a build replaces the paths of the sessions it changed
    (paw_changed_sessions), and removes those of sessions that no longer exist. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='paw_replace_sessions',
    paw_session_rows_end_at='last_event_at',
    on_schema_change='fail',
    paw_chunked=true,
    paw_order_by=['last_event_at'],
) }}
-- depends_on: {{ ref('int_events_attributed') }}
-- depends_on: {{ ref('path_cleaning') }}
{%- set page_path -%}
    coalesce(
        {{ paw_json_text('events.properties', '$.path') }},
        {{ paw_json_text('events.context', '$.page.path') }}
    )
{%- endset %}
with

events as not materialized (
    select * from {{ ref('stg_events') }}
),

{% if is_incremental() %}
activity as (
    {{ paw_rows_changed(ref('int_sessionized_activity'), by='session_id') }}
),
{% else %}
activity as not materialized (
    -- a full build is written in chunks of persons (macros/chunked_tables.sql)
    select * from {{ ref('int_sessionized_activity') }} as built
    where {{ paw_in_chunk('built.person_id') }}
),
{% endif %}

page_paths as (
    -- the distinct paths to clean, read from the activity's page calls rather than from
    -- session_events: DuckDB holds a CTE read twice whole in memory, where this plan spills
    -- (at 10M events, 250 MB was enough for this model where reading session_events twice
    -- needed more than 1 GB)
    select distinct {{ page_path }} as page_path
    from events
    where
        events.event_type = 'page'
        and events.event_id in (select activity.event_id from activity)
),

cleaned_paths as (
    -- the rules in rule_order (macros/paths.sql), each distinct path once
    select
        page_path,
        {{ paw_clean_path('page_path') }} as cleaned_path
    -- a page without a path (null) matches no row here: no filter on it, which DuckDB would
    -- push below the semi-join above and read the path of every page call in the events (0.4 s
    -- of the 3.7 s a nightly build takes at 10M events)
    from page_paths
),

session_events as (
    select
        activity.session_id,
        activity.person_id,
        activity.event_timestamp,
        activity.person_event_number,
        events.event_type,
        events.event_name,
        -- parsed only where the node uses it: DuckDB evaluates a `case` arm for its rows alone,
        -- where the bare expressions parsed every event's properties, and the context of every
        -- event without a path (at 10M events the projection's operator time fell from 2.0 to
        -- 0.45 s; a chunk's wall time, within its noise, from 13.0 to 12.3 s median)
        case when events.event_type = 'page' then {{ page_path }} end as page_path,
        case
            when events.event_type = 'screen'
                then {{ paw_json_text('events.properties', '$.name') }}
        end as screen_name
    from activity
    inner join events on activity.event_id = events.event_id
),

nodes as (
    select
        session_events.session_id,
        session_events.person_id,
        session_events.event_timestamp,
        session_events.person_event_number,
        case session_events.event_type
            when 'page' then 'page:' || coalesce(cleaned_paths.cleaned_path, '')
            when 'screen' then 'screen:' || coalesce(session_events.screen_name, '')
            else session_events.event_name
        end as node
    from session_events
    left join cleaned_paths on session_events.page_path = cleaned_paths.page_path
),

node_runs as (
    -- a collapsed run is an island of one node: a session's events are numbered consecutively
    -- in their person's activity, so within a run the event number less the event's rank among
    -- its session's events of that node is one constant, a different one for each run. One sort
    -- of the events, where marking each run's start and summing the marks took two
    select
        *,
        person_event_number - row_number() over (
            partition by session_id, node order by person_event_number
        ) as run_key
    from nodes
),

runs as (
    select
        session_id,
        person_id,
        node,
        min(person_event_number) as first_event_number,
        min(event_timestamp) as first_event_at,
        max(event_timestamp) as last_event_at
    from node_runs
    group by session_id, person_id, node, run_key
),

steps as (
    -- each run's number in its session, and its step to the next run of its session (none from
    -- the last): agg_path_transitions counts the steps from these columns, where joining the
    -- paths to themselves and grouping the steps by session took 5 of its 8 s at 10M events
    -- (this model's full build took 4 s longer for them)
    select
        session_id,
        person_id,
        cast(row_number() over session_order as integer) as node_number,
        node,
        first_event_at,
        last_event_at,
        lead(node) over session_order as next_node,
        cast(
            {{ paw_seconds_between('last_event_at', 'lead(first_event_at) over session_order') }}
            as double
        ) as seconds_to_next_node
    from runs
    window session_order as (partition by session_id order by first_event_number)
),

final as (
    select
        session_id,
        person_id,
        node_number,
        node,
        first_event_at,
        last_event_at,
        next_node,
        seconds_to_next_node,
        -- the session stepped from node to next_node before: a transition, not a new session
        next_node is not null
        and row_number() over (
            partition by session_id, node, next_node order by node_number
        ) > 1 as is_repeat_transition,
        {{ paw_built_at() }} as built_at
    from steps
)

select * from final
