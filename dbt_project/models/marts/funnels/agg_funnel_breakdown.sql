{#- Funnel steps split by the value of the funnel's breakdown_property on the step-1 event of
    each person's best chain; persons without the property form their own group (null). Only
    funnels with a breakdown_property have rows. -#}
with

progress as not materialized (
    select * from {{ ref('fct_funnel_progress') }}
),

funnels as not materialized (
    select * from {{ ref('stg_funnels') }}
),

funnel_steps as not materialized (
    select * from {{ ref('funnel_steps') }}
),

groups as (
    select distinct
        progress.funnel_name,
        progress.breakdown_value
    from progress
    inner join funnels on progress.funnel_name = funnels.funnel_name
    where funnels.breakdown_property is not null
),

reached as (
    select
        groups.funnel_name,
        groups.breakdown_value,
        funnel_steps.step_number,
        count(progress.person_id) as users  -- noqa: RF04
    from groups
    inner join funnel_steps on groups.funnel_name = funnel_steps.funnel_name
    left join progress
        on
            groups.funnel_name = progress.funnel_name
            and groups.breakdown_value is not distinct from progress.breakdown_value
            and funnel_steps.step_number <= progress.max_step
    group by all
),

final as (
    select
        funnel_name,
        breakdown_value,
        cast(step_number as integer) as step_number,
        users,
        users * 1.0 / first_value(users) over (
            partition by funnel_name, breakdown_value order by step_number
        ) as conversion_from_start
    from reached
)

select * from final
