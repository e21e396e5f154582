{#- Every event of the committed runs: the lake holds each event_id once (ingestion keeps its
    id index, docs/lake.md), so staging needs no deduplication of its own. Incremental: a build
    stages only the runs committed since the last one (docs/orchestration.md). -#}
{{ config(
    materialized='incremental',
    on_schema_change='fail',
    pre_hook="{{ paw_unstage_uncommitted_runs() }}",
) }}
with

lake_events as not materialized (
    select * from {{ source('lake', 'events') }}
),

new_events as (
    select
        lake_events.*,
        {{ paw_run_id_of('lake_events.filename') }} as run_id
    from lake_events
    where
        {{ paw_run_id_of('lake_events.filename') }}
        in {{ paw_committed_runs(staged_in=this if is_incremental() else none) }}
),

final as (
    select
        event_id,
        event_type,
        event_name,
        user_id,
        anonymous_id,
        previous_id,
        group_id,
        namespace,
        event_timestamp,
        cast(event_timestamp as date) as event_date,
        original_timestamp,
        sent_at,
        received_at,
        ingested_at,
        event_type in {{ paw_quoted_list(var('paw_activity_event_types')) }}
        and namespace in {{ paw_quoted_list(var('paw_activity_namespaces')) }} as is_activity,
        properties,
        traits,
        context,
        extra,
        source_file,
        source_line,
        run_id,
        {{ paw_built_at() }} as built_at
    from new_events
)

select * from final
