{#- Every event of the committed runs: the lake holds each event_id once (ingestion keeps its
    id index, docs/lake.md), so staging needs no deduplication of its own. -#}
with

lake_events as (
    select * from {{ source('lake', 'events') }}
),

committed_events as (
    select lake_events.*
    from lake_events
    where {{ paw_committed_runs_filter('lake_events.filename') }}
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
        source_line
    from committed_events
)

select * from final
