{#- NPS answers (docs/semantics.md, NPS): every paw_nps_event track event, with its score when
    it is an integer from 0 to 10 and why it is not counted otherwise.

    Incremental: a row depends on its event and the event's person alone. A build writes the
    answers whose int_events_attributed row is newer than its own (new, or moved to another
    person), and updates the person of those already stored (paw_upsert). -#}
{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='paw_upsert',
    paw_updated_columns=['person_id'],
    on_schema_change='fail',
) }}
with

events as not materialized (
    select * from {{ ref('stg_events') }}
),

attributed as not materialized (
    -- the events new, or moved to another person, since this model's last build
    {{ paw_rows_since_last_build(ref('int_events_attributed')) }}
),

responses as (
    select
        events.event_id,
        attributed.person_id,
        events.event_timestamp as responded_at,
        trim({{ paw_json_text('events.properties', '$.' ~ var('paw_nps_score_property')) }})
            as raw_score,
        {{ paw_json_text('events.properties', '$.comment') }} as comment  -- noqa: RF04
    from events
    inner join attributed on events.event_id = attributed.event_id
    where events.event_type = 'track' and events.event_name = '{{ var("paw_nps_event") }}'
),

judged as (
    select
        *,
        case
            when raw_score is null or raw_score = '' then 'missing_score'
            when not regexp_full_match(raw_score, '-?[0-9]{1,9}') then 'not_an_integer'
            when cast(raw_score as integer) not between 0 and 10 then 'out_of_range'
        end as invalid_reason
    from responses
),

final as (
    select
        event_id,
        person_id,
        responded_at,
        case when invalid_reason is null then cast(raw_score as integer) end as score,
        case
            when invalid_reason is not null then null
            when cast(raw_score as integer) >= 9 then 'promoter'
            when cast(raw_score as integer) >= 7 then 'passive'
            else 'detractor'
        end as category,
        comment,
        invalid_reason is null as is_valid,
        raw_score,
        invalid_reason,
        {{ paw_built_at() }} as built_at
    from judged
)

select * from final
