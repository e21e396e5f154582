{#- Unordered funnels (int_funnel_chains, PostHog's): from every event matching a step, the
    window of conversion_window_seconds starting there; a person reaches step k when such a
    window holds events for k of the steps, in any order. Equal steps each need their own event.
    A window's steps are the first event of each condition in it (a condition of k equal steps:
    its first k), each event counted once. Where every condition of a funnel is one step, these
    are found by window functions over the events in time order (one `min` per condition over
    the frame of the window), and each person's best window by a grouping, not by numbering
    them all: at 10M events the model's full query took 6.6-7.4 s so, against 10.7-12.5 s
    pairing every event with the events of its window (a join on a time bucket: 30M pairs,
    then grouped). A funnel with equal steps is still paired that way: a condition's first k
    events are not a window aggregate.
    Emits the CTEs step_conditions .. best_windows and unordered_chains: each person's best
    window per unordered funnel (the most steps, then the earliest start), with the lists
    step_reached_at, step_event_ids and step_event_numbers of paw_funnel_ordered_chains. Reads
    the CTEs step_events (int_funnel_step_events' rows), funnels (stg_funnels) and funnel_steps
    (the seed). -#}
{% macro paw_funnel_unordered_chains() -%}
step_conditions as (
    -- equal step definitions form one condition, which needs one event per step
    select
        funnel_name,
        step_number,
        dense_rank() over (
            partition by funnel_name order by event_name, property_name, property_value
        ) as condition_number,
        count(*) over (
            partition by funnel_name, event_name, property_name, property_value
        ) as condition_steps
    from funnel_steps
),

unordered_events as (
    select distinct
        step_events.funnel_name,
        step_events.person_id,
        step_events.event_id,
        step_events.event_timestamp,
        step_events.person_event_number,
        step_conditions.condition_number,
        step_conditions.condition_steps,
        funnels.conversion_window_seconds,
        -- the window's span in the microseconds that paw_seconds_between counts (inclusive)
        cast(floor(funnels.conversion_window_seconds * 1000000) as bigint)
            as conversion_window_microseconds,
        -- time in buckets one window wide (at least): an event within a window of another is
        -- in its bucket or the next
        epoch_us(step_events.event_timestamp) // greatest(
            cast(ceil(funnels.conversion_window_seconds * 1000000) as bigint), 1
        ) as window_bucket
    from step_events
    inner join funnels on step_events.funnel_name = funnels.funnel_name
    inner join step_conditions
        on
            step_events.funnel_name = step_conditions.funnel_name
            and step_events.step_number = step_conditions.step_number
    where funnels.order_mode = 'unordered'
),

funnel_conditions as (
    select
        funnel_name,
        max(condition_steps) > 1 as has_equal_steps
    from step_conditions
    group by funnel_name
),

single_step_windows as (
    -- funnels whose every condition is one step: the first event of each condition in the
    -- window that starts at each matching event (its peers at the same time included, as in
    -- the pairing below), found over the events in time order
    select
        funnel_name,
        person_id,
        person_event_number as start_event_number,
        list_distinct([
            {%- for condition in range(1, var('paw_funnel_max_steps') | int + 1) %}
            min(person_event_number) filter (where condition_number = {{ condition }})
                over event_window{{ ',' if not loop.last }}
            {%- endfor %}
        ]) as counted_event_numbers
    from unordered_events
    where funnel_name in (
        select funnel_conditions.funnel_name
        from funnel_conditions
        where not funnel_conditions.has_equal_steps
    )
    window event_window as (
        partition by funnel_name, person_id
        order by epoch_us(event_timestamp)
        range between current row and conversion_window_microseconds following
    )
),

window_starts as not materialized (
    -- funnels with equal steps: each matching event looks for the window's events in its own
    -- bucket and the next: a join on the bucket pairs a start with far fewer events than all
    -- its person's later ones
    select
        unordered_events.*,
        unordered_events.window_bucket + bucket_offsets.bucket_offset as searched_bucket
    from unordered_events
    cross join (values (0), (1)) as bucket_offsets (bucket_offset)
    where unordered_events.funnel_name in (
        select funnel_conditions.funnel_name
        from funnel_conditions
        where funnel_conditions.has_equal_steps
    )
),

window_events as not materialized (
    -- every matching event in the window that starts at each matching event
    select
        window_starts.funnel_name,
        window_starts.person_id,
        window_starts.person_event_number as start_event_number,
        window_events.person_event_number,
        window_events.condition_number,
        window_events.condition_steps
    from window_starts
    inner join unordered_events as window_events
        on
            window_starts.funnel_name = window_events.funnel_name
            and window_starts.person_id = window_events.person_id
            and window_starts.searched_bucket = window_events.window_bucket
            and window_starts.event_timestamp <= window_events.event_timestamp
            and {{ paw_seconds_between(
                'window_starts.event_timestamp', 'window_events.event_timestamp'
            ) }} <= window_starts.conversion_window_seconds
),

first_condition_events as (
    -- a condition of one step counts its first event in the window
    select
        funnel_name,
        person_id,
        start_event_number,
        min(person_event_number) as person_event_number
    from window_events
    where condition_steps = 1
    group by funnel_name, person_id, start_event_number, condition_number
),

repeated_condition_events as (
    -- a condition of k steps counts its first k events in the window
    select
        funnel_name,
        person_id,
        start_event_number,
        person_event_number
    from window_events
    where condition_steps > 1
    qualify row_number() over (
        partition by funnel_name, person_id, start_event_number, condition_number
        order by person_event_number
    ) <= condition_steps
),

counted_events as (
    -- an event counts once, even when it matches two different conditions (a union is
    -- distinct)
    select * from first_condition_events
    union
    select * from repeated_condition_events
),

windows as (
    select * from single_step_windows
    union all
    select
        funnel_name,
        person_id,
        start_event_number,
        list(person_event_number) as counted_event_numbers
    from counted_events
    group by funnel_name, person_id, start_event_number
),

best_windows as (
    -- each person's window with the most steps, then the earliest start: a grouping, where
    -- numbering the windows sorted them all (3M at 10M events)
    select
        funnel_name,
        person_id,
        arg_min(
            {
                'start_event_number': start_event_number,
                'counted_event_numbers': counted_event_numbers
            },
            {
                'fewer_steps': -len(counted_event_numbers),
                'start_event_number': start_event_number
            }
        ) as best_window
    from windows
    group by funnel_name, person_id
),

best_window_events as (
    select
        funnel_name,
        person_id,
        len(best_window.counted_event_numbers) as chain_length,
        unnest(best_window.counted_event_numbers) as person_event_number
    from best_windows
),

unordered_step_events as (
    -- the counted events' times and ids, each event once (an event matching two conditions is
    -- two rows of unordered_events)
    select distinct
        unordered_events.funnel_name,
        unordered_events.person_id,
        unordered_events.person_event_number,
        unordered_events.event_timestamp,
        unordered_events.event_id
    from unordered_events
    semi join best_window_events
        on
            unordered_events.funnel_name = best_window_events.funnel_name
            and unordered_events.person_id = best_window_events.person_id
            and unordered_events.person_event_number = best_window_events.person_event_number
),

unordered_chains as (
    select
        best_window_events.funnel_name,
        best_window_events.person_id,
        best_window_events.chain_length,
        {{ paw_ordered_list(
            'unordered_step_events.event_timestamp', 'best_window_events.person_event_number'
        ) }} as step_reached_at,
        {{ paw_ordered_list(
            'unordered_step_events.event_id', 'best_window_events.person_event_number'
        ) }} as step_event_ids,
        list_sort(list(best_window_events.person_event_number)) as step_event_numbers
    from best_window_events
    inner join unordered_step_events
        on
            best_window_events.funnel_name = unordered_step_events.funnel_name
            and best_window_events.person_id = unordered_step_events.person_id
            and best_window_events.person_event_number = unordered_step_events.person_event_number
    group by
        best_window_events.funnel_name,
        best_window_events.person_id,
        best_window_events.chain_length
)
{%- endmacro %}
