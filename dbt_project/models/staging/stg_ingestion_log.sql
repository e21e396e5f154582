{#- The ingestion log: one row per landing file per committed run. -#}
with

ingestion_log as not materialized (
    select * from {{ source('lake', 'ingestion_log') }}
),

final as (
    select
        run_id,
        source_file,
        size_bytes,
        source_version,
        content_hash,
        lines_read,
        blank_lines,
        events_landed,
        quarantined,
        duplicates,
        lines_read = events_landed + quarantined + duplicates as reconciles,
        started_at,
        finished_at,
        error
    from ingestion_log
)

select * from final
