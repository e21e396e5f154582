-- Reconciliation: every staged activity event appears in marts.fct_events exactly once.
with

staged as (
    select event_id from {{ ref('stg_events') }}
    where is_activity
),

published as (
    select
        event_id,
        count(*) as copies
    from {{ ref('fct_events') }}
    group by event_id
)

select
    coalesce(staged.event_id, published.event_id) as event_id,
    coalesce(published.copies, 0) as copies_in_fct_events,
    staged.event_id is not null as is_staged_activity
from staged
full outer join published on staged.event_id = published.event_id
where published.copies is distinct from 1 or staged.event_id is null
