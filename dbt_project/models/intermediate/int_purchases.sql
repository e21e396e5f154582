{#- Purchases: the activity events named var('paw_rfm_purchase_event'), each with its value,
    var('paw_rfm_value_property') as an exact DECIMAL(38, 9) (0 when missing or not a number),
    so that sums of money do not depend on the order rows are added in. The one home of what a
    purchase is worth, for RFM and cohort revenue.

    Incremental: a row depends on its event and the event's person alone. A build writes the
    purchases whose int_sessionized_activity row is newer than its own (new, or walked again:
    its person may have changed), and updates the person of those already stored
    (paw_upsert). -#}
{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='paw_upsert',
    paw_updated_columns=['person_id'],
    on_schema_change='fail',
) }}
{%- set purchase_event = var('paw_rfm_purchase_event') %}
{%- set value_property = var('paw_rfm_value_property') %}
with

events as not materialized (
    select * from {{ ref('stg_events') }}
),

activity as not materialized (
    -- the activity events new, or walked again, since this model's last build
    {{ paw_rows_since_last_build(ref('int_sessionized_activity')) }}
),

final as (
    select
        events.event_id,
        activity.person_id,
        events.event_timestamp,
        events.event_date,
        coalesce(
            try_cast(
                {{ paw_json_text('events.properties', '$.' ~ value_property) }} as decimal(38, 9)
            ),
            0
        ) as purchase_value,
        {{ paw_built_at() }} as built_at
    from events
    inner join activity on events.event_id = activity.event_id
    where events.event_name = '{{ purchase_event }}'
)

select * from final
