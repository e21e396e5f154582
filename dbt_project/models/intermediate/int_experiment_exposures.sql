{#- Experiments (docs/semantics.md): a person's exposure to an experiment listed in
    seeds/experiments.csv is their first exposure event for it; a person shown two or more
    variants is flagged (and excluded from the results). They convert with a goal activity
    event at or after the exposure and within goal_window_days days of it. -#}
with

events as not materialized (
    select * from {{ ref('stg_events') }}
),

attributed as not materialized (
    select * from {{ ref('int_events_attributed') }}
),

experiments as not materialized (
    select * from {{ ref('experiments') }}
),

-- the exposures and the goals' events, joined to their persons together: each join to
-- int_events_attributed scans its event ids (0.5 s at 10M events), once instead of twice
experiment_events as (
    select
        events.event_id,
        events.event_timestamp,
        events.event_name,
        true as is_exposure,
        events.properties
    from events
    where
        events.event_type = 'track'
        and events.event_name = '{{ var("paw_experiment_exposure_event") }}'
    union all
    select
        events.event_id,
        events.event_timestamp,
        events.event_name,
        false as is_exposure,
        null as properties
    from events
    where
        events.is_activity
        and events.event_name in (select experiments.goal_event from experiments)
),

attributed_events as (
    select
        experiment_events.*,
        attributed.person_id
    from experiment_events
    inner join attributed on experiment_events.event_id = attributed.event_id
),

exposure_events as (
    select
        event_id,
        event_timestamp,
        person_id,
        {{ paw_json_text('properties', '$.' ~ var('paw_experiment_key_property')) }}
            as experiment_key,
        {{ paw_json_text('properties', '$.' ~ var('paw_experiment_variant_property')) }}
            as variant
    from attributed_events
    where is_exposure
),

listed_exposures as (
    select exposure_events.*
    from exposure_events
    inner join experiments on exposure_events.experiment_key = experiments.experiment_key
    where exposure_events.variant is not null
),

person_exposures as (
    select
        experiment_key,
        person_id,
        min(event_timestamp) as exposed_at,
        arg_min(variant, (event_timestamp, event_id)) as first_variant,
        count(distinct variant) as variants_seen
    from listed_exposures
    group by experiment_key, person_id
),

goal_events as (
    select
        person_id,
        event_name,
        event_timestamp
    from attributed_events
    where not is_exposure
),

conversions as (
    select
        person_exposures.experiment_key,
        person_exposures.person_id,
        min(goal_events.event_timestamp) as converted_at
    from person_exposures
    inner join experiments on person_exposures.experiment_key = experiments.experiment_key
    inner join goal_events
        on
            person_exposures.person_id = goal_events.person_id
            and experiments.goal_event = goal_events.event_name
            and person_exposures.exposed_at <= goal_events.event_timestamp
            and goal_events.event_timestamp <= {{ dbt.dateadd(
                'day', 'experiments.goal_window_days', 'person_exposures.exposed_at'
            ) }}
    group by person_exposures.experiment_key, person_exposures.person_id
),

final as (
    select
        person_exposures.experiment_key,
        person_exposures.person_id,
        case when person_exposures.variants_seen = 1 then person_exposures.first_variant end
            as variant,
        person_exposures.exposed_at,
        person_exposures.variants_seen > 1 as is_multiple_variant,
        conversions.converted_at is not null as converted,
        conversions.converted_at
    from person_exposures
    left join conversions
        on
            person_exposures.experiment_key = conversions.experiment_key
            and person_exposures.person_id = conversions.person_id
)

select * from final
