-- int_funnel_chains follows at most var('paw_funnel_max_steps') steps.
select
    funnel_name,
    step_number,
    'funnel ' || funnel_name || ' has step ' || step_number
    || ', more than paw_funnel_max_steps ({{ var("paw_funnel_max_steps") }}); raise the var'
        as problem
from {{ ref('funnel_steps') }}
where step_number > {{ var('paw_funnel_max_steps') }}
