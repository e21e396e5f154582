{#- ClickHouse windowFunnel semantics (default mode): per person, the longest chain of steps
    1..k matched in order with non-decreasing times, every step within the funnel's
    conversion window (inclusive) of the chain's step-1 event, trying every step-1 occurrence.

    From each step-1 event the chain takes, step by step, the earliest matching event at or
    after the previous step: the earliest choice leaves the most room for the steps after it,
    so it finds the longest chain from that start. The best chain is the longest, then the one
    that started first. One row per step of each person's best chain. -#}
{%- set max_steps = var('paw_funnel_max_steps') | int %}
with

step_events as (
    select * from {{ ref('int_funnel_step_events') }}
),

funnels as (
    select * from {{ ref('funnels') }}
),

chains_1 as (
    select
        step_events.funnel_name,
        step_events.person_id,
        step_events.event_timestamp as step_1_at,
        step_events.event_timestamp as reached_at,
        funnels.conversion_window_seconds
    from step_events
    inner join funnels on step_events.funnel_name = funnels.funnel_name
    where step_events.step_number = 1
),
{%- for k in range(2, max_steps + 1) %}

    timeline_{{ k }} as (
        select
            funnel_name,
            person_id,
            reached_at as at_time,
            0 as row_kind,
            {% for i in range(1, k) %}step_{{ i }}_at,
            {% endfor %}
            conversion_window_seconds
        from chains_{{ k - 1 }}
        union all
        select
            funnel_name,
            person_id,
            event_timestamp as at_time,
            1 as row_kind,
            {% for i in range(1, k) %}cast(null as timestamp) as step_{{ i }}_at,
            {% endfor %}
            cast(null as bigint) as conversion_window_seconds
        from step_events
        where step_number = {{ k }}
    ),

    next_step_{{ k }} as (
        select
            *,
            min(case when row_kind = 1 then at_time end) over (
                partition by funnel_name, person_id
                order by at_time, row_kind
                rows between current row and unbounded following
            ) as next_at
        from timeline_{{ k }}
    ),

    chains_{{ k }} as (
        select
            funnel_name,
            person_id,
            {% for i in range(1, k) %}step_{{ i }}_at,
            {% endfor %}
            next_at as step_{{ k }}_at,
            next_at as reached_at,
            conversion_window_seconds
        from next_step_{{ k }}
        where
            row_kind = 0
            and next_at is not null
            and {{ paw_seconds_between('step_1_at', 'next_at') }} <= conversion_window_seconds
    ),
{%- endfor %}

all_chains as (
    {%- for k in range(1, max_steps + 1) %}
        select
            funnel_name,
            person_id,
            {{ k }} as max_step,
            {% for i in range(1, max_steps + 1) %}
                {%- if i <= k %}
                    step_{{ i }}_at{% else %}
                    cast(null as timestamp) as step_{{ i }}_at{% endif %}
                {%- if not loop.last %},{% endif %}
            {%- endfor %}
        from chains_{{ k }}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

best_chains as (
    select *
    from (
        select
            *,
            row_number() over (
                partition by funnel_name, person_id order by max_step desc, step_1_at asc
            ) as chain_rank
        from all_chains
    ) as ranked
    where chain_rank = 1
),

final as (
    {%- for i in range(1, max_steps + 1) %}
        select
            funnel_name,
            person_id,
            max_step,
            {{ i }} as step_number,
            step_{{ i }}_at as reached_at
        from best_chains
        where max_step >= {{ i }}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select * from final
