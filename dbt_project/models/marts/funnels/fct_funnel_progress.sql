with

chains as not materialized (
    select * from {{ ref('int_funnel_chains') }}
),

funnels as not materialized (
    select * from {{ ref('stg_funnels') }}
),

events as not materialized (
    select * from {{ ref('stg_events') }}
),

progress as (
    select
        funnel_name,
        person_id,
        max(max_step) as max_step,
        min(case when step_number = 1 then reached_at end) as entered_at,
        min(case when step_number = 1 then event_id end) as entered_event_id,
        -- one row a step reached (int_funnel_chains): the step's one reached_at
        {{ paw_list_by_step('reached_at', 'step_number') }} as step_reached_at
    from chains
    group by funnel_name, person_id
),

final as (
    select
        progress.funnel_name,
        progress.person_id,
        cast(progress.max_step as integer) as max_step,
        progress.entered_at,
        progress.max_step = funnels.step_count as converted,
        progress.step_reached_at,
        case
            when funnels.breakdown_property is not null
                then {{ paw_json_text_at('events.properties', 'funnels.breakdown_property') }}
        end as breakdown_value
    from progress
    inner join funnels on progress.funnel_name = funnels.funnel_name
    left join events on progress.entered_event_id = events.event_id
)

select * from final
