{#- The ingestion log: one row per landing file per committed run. -#}
with

manifest as (
    select * from {{ source('lake', 'ingestion_manifest') }}
),

final as (
    select
        run_id,
        source_file,
        size_bytes,
        content_hash,
        lines_read,
        blank_lines,
        events_landed,
        quarantined,
        duplicates,
        lines_read = events_landed + quarantined + duplicates as reconciles,
        started_at,
        finished_at
    from manifest
)

select * from final
