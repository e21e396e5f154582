{#- Every activity event that matches a funnel step (an event may match several steps). -#}
with

activity as (
    select * from {{ ref('fct_events') }}
),

funnel_steps as (
    select * from {{ ref('funnel_steps') }}
),

final as (
    select
        funnel_steps.funnel_name,
        funnel_steps.step_number,
        activity.person_id,
        activity.event_id,
        activity.event_timestamp
    from activity
    inner join funnel_steps on activity.event_name = funnel_steps.event_name
    where
        funnel_steps.property_name is null
        or {{ paw_json_text_at('activity.properties', 'funnel_steps.property_name') }}
        = funnel_steps.property_value
)

select * from final
