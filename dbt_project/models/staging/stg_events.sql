{#- One row per event_id across the whole lake. A redelivered event keeps the copy received
    first (then the one ingested first). -#}
with

lake_events as (
    select * from {{ source('lake', 'events') }}
),

committed_events as (
    select lake_events.*
    from lake_events
    where {{ paw_committed_runs_filter('lake_events.filename') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by event_id
            order by received_at asc nulls last, ingested_at asc, source_file asc, source_line asc
        ) as copy_rank
    from committed_events
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
    from ranked
    where copy_rank = 1
)

select * from final
