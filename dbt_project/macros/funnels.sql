{#- Ordered and strict funnels: from every step-1 event, the chain that takes, step by step, the
    next event matching the next step after the previous step in the person's activity order
    (person_event_number: time, then event id), every step within the funnel's conversion
    window (inclusive) of the chain's step-1 event. The next matching event leaves the most room
    for the steps after it, so this is the longest chain from that start; taking only later
    events makes every step its own event.

    Emits the CTEs chains_1 .. chains_n and ordered_chains: one row per start and length
    reached (a chain of 3 steps has rows for lengths 1, 2 and 3), with lists step_reached_at,
    step_event_ids and step_event_numbers. `step_events` names a CTE of step events (columns of
    int_funnel_step_events plus conversion_window_seconds). -#}
{% macro paw_funnel_ordered_chains(step_events) -%}
{%- set max_steps = var('paw_funnel_max_steps') | int %}
chains_1 as (
    select
        funnel_name,
        person_id,
        conversion_window_seconds,
        event_timestamp as step_1_at,
        event_id as step_1_event_id,
        person_event_number as step_1_event_number
    from {{ step_events }}
    where step_number = 1
),
{%- for k in range(2, max_steps + 1) %}

    timeline_{{ k }} as (
        select
            funnel_name,
            person_id,
            step_{{ k - 1 }}_event_number as event_number,
            1 as row_kind,
            conversion_window_seconds,
            {%- for i in range(1, k) %}
                step_{{ i }}_at,
                step_{{ i }}_event_id,
                step_{{ i }}_event_number,
            {%- endfor %}
            cast(null as timestamp) as event_at,
            cast(null as varchar) as event_id
        from chains_{{ k - 1 }}
        union all
        select
            funnel_name,
            person_id,
            person_event_number as event_number,
            0 as row_kind,
            cast(null as bigint) as conversion_window_seconds,
            {%- for i in range(1, k) %}
                cast(null as timestamp) as step_{{ i }}_at,
                cast(null as varchar) as step_{{ i }}_event_id,
                cast(null as bigint) as step_{{ i }}_event_number,
            {%- endfor %}
            event_timestamp as event_at,
            event_id
        from {{ step_events }}
        where step_number = {{ k }}
    ),

    next_events_{{ k }} as (
        select
            *,
            -- an event row sorts before a chain row of the same event, so the chain takes
            -- only later events
            min(
                case
                    when row_kind = 0
                        then {'event_number': event_number, 'event_at': event_at, 'event_id': event_id}
                end
            ) over (
                partition by funnel_name, person_id
                order by event_number, row_kind
                rows between current row and unbounded following
            ) as next_event
        from timeline_{{ k }}
    ),

    chains_{{ k }} as (
        select
            funnel_name,
            person_id,
            conversion_window_seconds,
            {%- for i in range(1, k) %}
                step_{{ i }}_at,
                step_{{ i }}_event_id,
                step_{{ i }}_event_number,
            {%- endfor %}
            next_event.event_at as step_{{ k }}_at,
            next_event.event_id as step_{{ k }}_event_id,
            next_event.event_number as step_{{ k }}_event_number
        from next_events_{{ k }}
        where
            row_kind = 1
            and next_event is not null
            and {{ paw_seconds_between('step_1_at', 'next_event.event_at') }}
            <= conversion_window_seconds
    ),
{%- endfor %}

ordered_chains as (
    {%- for k in range(1, max_steps + 1) %}
        select
            funnel_name,
            person_id,
            {{ k }} as chain_length,
            [{% for i in range(1, k + 1) %}step_{{ i }}_at{% if not loop.last %}, {% endif %}{% endfor %}]
                as step_reached_at,
            [{% for i in range(1, k + 1) %}step_{{ i }}_event_id{% if not loop.last %}, {% endif %}{% endfor %}]
                as step_event_ids,
            [{% for i in range(1, k + 1) %}step_{{ i }}_event_number{% if not loop.last %}, {% endif %}{% endfor %}]
                as step_event_numbers
        from chains_{{ k }}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)
{%- endmacro %}

{#- Strict funnels (int_funnel_chains): the ordered chains read only up to where the funnel
    stops reading the person's activity: from their first step-1 event on, at the first activity
    event that matches no step, or matches only steps whose previous step has not been reached
    by then. Emits the CTEs first_reached .. strict_stops and read_chains: the rows of
    ordered_chains (paw_funnel_ordered_chains) that are read, every chain of an ordered funnel
    among them. Reads the CTEs ordered_chains, step_events (int_funnel_step_events' rows) and
    funnels (stg_funnels). -#}
{% macro paw_funnel_strict_reads() -%}
first_reached as (
    -- strict funnels: the earliest event at which any chain reached each step
    select
        ordered_chains.funnel_name,
        ordered_chains.person_id,
        ordered_chains.chain_length as step_number,
        min(ordered_chains.step_event_numbers[ordered_chains.chain_length])
            as first_reached_event_number
    from ordered_chains
    inner join funnels on ordered_chains.funnel_name = funnels.funnel_name
    where funnels.order_mode = 'strict'
    group by ordered_chains.funnel_name, ordered_chains.person_id, ordered_chains.chain_length
),

strict_step_numbers as (
    -- strict funnels: the event numbers of each person's step events from their first step-1
    -- event on. A person's activity is numbered 1, 2, 3, ... so a number missing here is an
    -- event that matches no step: where the funnel stops, unless it stopped earlier
    select distinct
        step_events.funnel_name,
        step_events.person_id,
        step_events.person_event_number
    from step_events
    inner join first_reached
        on
            step_events.funnel_name = first_reached.funnel_name
            and step_events.person_id = first_reached.person_id
            and step_events.person_event_number >= first_reached.first_reached_event_number
    where first_reached.step_number = 1
),

first_non_step_events as (
    -- the first number after the first step-1 event that no step event has (it may be past
    -- the person's last event: then it stops nothing)
    select
        strict_step_numbers.funnel_name,
        strict_step_numbers.person_id,
        min(strict_step_numbers.person_event_number) + 1 as stopped_at_event_number
    from strict_step_numbers
    anti join strict_step_numbers as next_numbers
        on
            strict_step_numbers.funnel_name = next_numbers.funnel_name
            and strict_step_numbers.person_id = next_numbers.person_id
            and strict_step_numbers.person_event_number + 1 = next_numbers.person_event_number
    group by strict_step_numbers.funnel_name, strict_step_numbers.person_id
),

strict_verdicts as (
    -- a step event after the first step-1 event lets the funnel read on when it matches step
    -- 1, or a step whose previous step was reached before it
    select
        step_events.funnel_name,
        step_events.person_id,
        step_events.person_event_number,
        bool_or(
            step_events.step_number = 1
            or coalesce(
                previous_step.first_reached_event_number < step_events.person_event_number,
                false
            )
        ) as may_continue
    from step_events
    inner join first_reached as first_step
        on
            step_events.funnel_name = first_step.funnel_name
            and step_events.person_id = first_step.person_id
            and step_events.person_event_number > first_step.first_reached_event_number
    left join first_reached as previous_step
        on
            step_events.funnel_name = previous_step.funnel_name
            and step_events.person_id = previous_step.person_id
            and step_events.step_number - 1 = previous_step.step_number
    where first_step.step_number = 1
    group by
        step_events.funnel_name,
        step_events.person_id,
        step_events.person_event_number
),

strict_stops as (
    select
        funnel_name,
        person_id,
        min(stopped_at_event_number) as stopped_at_event_number
    from (
        select * from first_non_step_events
        union all
        select
            funnel_name,
            person_id,
            person_event_number as stopped_at_event_number
        from strict_verdicts
        where not may_continue
    ) as stops
    group by funnel_name, person_id
),

read_chains as (
    select ordered_chains.*
    from ordered_chains
    left join strict_stops
        on
            ordered_chains.funnel_name = strict_stops.funnel_name
            and ordered_chains.person_id = strict_stops.person_id
    where
        strict_stops.stopped_at_event_number is null
        or ordered_chains.step_event_numbers[ordered_chains.chain_length]
        < strict_stops.stopped_at_event_number
)
{%- endmacro %}

{#- A funnel progress's values by step, as a list in step order (the steps it has rows for): one
    pair of fixed-size aggregates a step, not a list aggregate, whose states DuckDB cannot spill
    (fct_funnel_progress at 10M events needed more than 180 MB with list(); 150 MB is enough
    this way, and at 100M events list() ran out of 2 GB). -#}
{% macro paw_list_by_step(value, step_column) -%}
    list_transform(
        list_filter(
            [
                {%- for step in range(1, var('paw_funnel_max_steps') | int + 1) %}
                {
                    'reached': count(*) filter (where {{ step_column }} = {{ step }}) > 0,
                    'value': min({{ value }}) filter (where {{ step_column }} = {{ step }})
                }{{ "," if not loop.last }}
                {%- endfor %}
            ],
            step_entry -> step_entry.reached
        ),
        step_entry -> step_entry.value
    )
{%- endmacro %}
