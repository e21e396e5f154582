with

lake_quarantine as not materialized (
    select * from {{ source('lake', 'quarantine') }}
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
    where {{ paw_committed_runs_filter('lake_quarantine.filename') }}
)

select * from final
