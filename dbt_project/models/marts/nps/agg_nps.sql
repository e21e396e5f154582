{#- NPS per ISO week, month and overall: each person's latest valid response in the period
    counts once; nps = 100 * (promoters - detractors) / respondents. -#}
with

responses as not materialized (
    select * from {{ ref('fct_nps_responses') }}
),

grains as (
    select 'week' as period_grain
    union all
    select 'month' as period_grain
    union all
    select 'all' as period_grain
),

periodic as (
    select
        grains.period_grain,
        case
            when grains.period_grain != 'all'
                then {{ paw_period_start(
                    'grains.period_grain', 'cast(responses.responded_at as date)'
                ) }}
        end as period_start,
        responses.*
    from responses
    cross join grains
),

latest_valid as (
    select
        period_grain,
        period_start,
        person_id,
        {{ paw_last_by('category', '(responded_at, event_id)') }} as category
    from periodic
    where is_valid
    group by period_grain, period_start, person_id
),

counted as (
    select
        period_grain,
        period_start,
        count(*) as respondents,
        count(case when category = 'promoter' then 1 end) as promoters,
        count(case when category = 'passive' then 1 end) as passives,
        count(case when category = 'detractor' then 1 end) as detractors
    from latest_valid
    group by period_grain, period_start
),

invalid as (
    select
        period_grain,
        period_start,
        count(case when not is_valid then 1 end) as invalid_responses
    from periodic
    group by period_grain, period_start
),

final as (
    select
        invalid.period_grain,
        invalid.period_start,
        coalesce(counted.respondents, 0) as respondents,
        coalesce(counted.promoters, 0) as promoters,
        coalesce(counted.passives, 0) as passives,
        coalesce(counted.detractors, 0) as detractors,
        case
            when counted.respondents > 0
                then 100.0 * (counted.promoters - counted.detractors) / counted.respondents
        end as nps,
        invalid.invalid_responses
    from invalid
    left join counted
        on
            invalid.period_grain = counted.period_grain
            and invalid.period_start is not distinct from counted.period_start
)

select * from final
