-- Reconciliation: every staged activity event appears in marts.fct_events exactly once.
-- After an incremental build whose counts agree, only the rows it wrote are compared: each is a
-- staged activity event, the older rows were compared by the build that wrote them, and
-- fct_events_event_id_is_unique rules out a repeat, so equal counts leave no event missing.
-- Otherwise (a full build, or counts that disagree) every event is compared.
{%- set newest = paw_newest_rows_only(ref('fct_events')) -%}
{%- set counts_agree = false -%}
{%- if newest -%}
    {%- set counted = run_query(
        "select (select count(*) from " ~ ref('stg_events') ~ " where is_activity)"
        ~ " = (select count(*) from " ~ ref('fct_events') ~ ")"
    ) -%}
    {%- set counts_agree = counted.rows[0][0] -%}
{%- endif %}
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
    {%- if counts_agree %}
        where {{ newest }}
    {%- endif %}
    group by event_id
),

final as (
    select
        coalesce(staged.event_id, published.event_id) as event_id,
        coalesce(published.copies, 0) as copies_in_fct_events,
        staged.event_id is not null as is_staged_activity
    from staged
    {{ 'right join' if counts_agree else 'full outer join' }} published
        on staged.event_id = published.event_id
    where published.copies is distinct from 1 or staged.event_id is null
)

select * from final
