with

chains as (
    select * from {{ ref('int_funnel_chains') }}
),

funnel_lengths as (
    select
        funnel_name,
        max(step_number) as step_count
    from {{ ref('funnel_steps') }}
    group by funnel_name
),

progress as (
    select
        funnel_name,
        person_id,
        max(max_step) as max_step,
        min(case when step_number = 1 then reached_at end) as entered_at,
        list(reached_at order by step_number) as step_reached_at
    from chains
    group by funnel_name, person_id
),

final as (
    select
        progress.funnel_name,
        progress.person_id,
        cast(progress.max_step as integer) as max_step,
        progress.entered_at,
        progress.max_step = funnel_lengths.step_count as converted,
        progress.step_reached_at
    from progress
    inner join funnel_lengths on progress.funnel_name = funnel_lengths.funnel_name
)

select * from final
