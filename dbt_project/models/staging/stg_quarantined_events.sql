with

lake_quarantine as (
    select * from {{ source('lake', 'quarantine') }}
),

committed_runs as (
    select distinct run_id from {{ source('lake', 'ingestion_manifest') }}
),

final as (
    select
        source_file,
        line_number,
        batch_index,
        reason,
        error,
        raw_line,
        raw_bytes,
        ingested_at
    from lake_quarantine
    where {{ paw_run_id_of('lake_quarantine.filename') }} in (
        select committed_runs.run_id from committed_runs
    )
)

select * from final
