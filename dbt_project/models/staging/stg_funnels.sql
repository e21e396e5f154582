{#- The funnel definitions with their defaults filled in: one home for what an empty
    optional column of seeds/funnels.csv means, and for a funnel's number of steps. -#}
with

funnels as not materialized (
    select * from {{ ref('funnels') }}
),

funnel_steps as not materialized (
    select * from {{ ref('funnel_steps') }}
),

funnel_lengths as (
    select
        funnel_name,
        max(step_number) as step_count
    from funnel_steps
    group by funnel_name
),

final as (
    select
        funnels.funnel_name,
        funnels.conversion_window_seconds,
        coalesce(nullif(trim(funnels.order_mode), ''), 'ordered') as order_mode,
        nullif(trim(funnels.breakdown_property), '') as breakdown_property,
        coalesce(funnel_lengths.step_count, 0) as step_count
    from funnels
    left join funnel_lengths on funnels.funnel_name = funnel_lengths.funnel_name
)

select * from final
