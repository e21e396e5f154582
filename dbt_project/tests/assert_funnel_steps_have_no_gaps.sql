-- A funnel's steps must be numbered 1, 2, ..., n with no gap: one row per broken funnel.
with

steps as (
    select * from {{ ref('funnel_steps') }}
),

per_funnel as (
    select
        funnel_name,
        min(step_number) as first_step,
        max(step_number) as last_step,
        count(distinct step_number) as distinct_steps
    from steps
    group by funnel_name
)

select
    funnel_name,
    'steps of funnel ' || funnel_name || ' must be numbered 1..n without gaps; found '
    || distinct_steps || ' distinct steps between ' || first_step || ' and ' || last_step
        as problem
from per_funnel
where first_step <> 1 or last_step <> distinct_steps
