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
