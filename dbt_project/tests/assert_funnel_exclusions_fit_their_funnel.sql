-- An exclusion belongs to an ordered or strict funnel, and its to_step is one of its steps.
with

exclusions as (
    select * from {{ ref('funnel_exclusions') }}
),

funnels as (
    select * from {{ ref('stg_funnels') }}
)

select
    exclusions.funnel_name,
    exclusions.event_name,
    'the exclusion of ' || exclusions.event_name || ' in funnel ' || exclusions.funnel_name
    || ' needs an ordered or strict funnel with a step ' || exclusions.to_step as problem
from exclusions
left join funnels on exclusions.funnel_name = funnels.funnel_name
where
    funnels.order_mode is distinct from 'ordered' and funnels.order_mode is distinct from 'strict'
    or exclusions.to_step > coalesce(funnels.step_count, 0)
