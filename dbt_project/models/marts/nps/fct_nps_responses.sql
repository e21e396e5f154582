{#- NPS answers (docs/semantics.md, NPS): every paw_nps_event track event, with its score when
    it is an integer from 0 to 10 and why it is not counted otherwise. -#}
with

events as not materialized (
    select * from {{ ref('stg_events') }}
),

attributed as not materialized (
    select * from {{ ref('int_events_attributed') }}
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
        invalid_reason
    from judged
)

select * from final
