{#- Unordered funnels (int_funnel_chains, PostHog's): from every event matching a step, the
    window of conversion_window_seconds starting there; a person reaches step k when such a
    window holds events for k of the steps, in any order. Equal steps each need their own event.
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

window_starts as not materialized (
    -- each matching event looks for the window's events in its own bucket and the next: a join
    -- on the bucket pairs a start with far fewer events than all its person's later ones
    select
        unordered_events.*,
        unordered_events.window_bucket + bucket_offsets.bucket_offset as searched_bucket
    from unordered_events
    cross join (values (0), (1)) as bucket_offsets (bucket_offset)
),

window_events as not materialized (
    -- every matching event in the window that starts at each matching event
    select
        window_starts.funnel_name,
        window_starts.person_id,
        window_starts.person_event_number as start_event_number,
        window_events.event_id,
        window_events.event_timestamp,
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
    -- a condition of one step counts its first event in the window: a grouping, three times
    -- faster than numbering every event of every window (most conditions are of one step)
    select
        funnel_name,
        person_id,
        start_event_number,
        min(person_event_number) as person_event_number,
        arg_min(event_timestamp, person_event_number) as event_timestamp,
        arg_min(event_id, person_event_number) as event_id
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
        person_event_number,
        event_timestamp,
        event_id
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

best_windows as (
    select
        funnel_name,
        person_id,
        start_event_number,
        count(*) as chain_length
    from counted_events
    group by funnel_name, person_id, start_event_number
    qualify row_number() over (
        partition by funnel_name, person_id order by chain_length desc, start_event_number asc
    ) = 1
),

unordered_chains as (
    select
        best_windows.funnel_name,
        best_windows.person_id,
        best_windows.chain_length,
        {{ paw_ordered_list(
            'counted_events.event_timestamp', 'counted_events.person_event_number'
        ) }} as step_reached_at,
        {{ paw_ordered_list('counted_events.event_id', 'counted_events.person_event_number') }}
            as step_event_ids,
        {{ paw_ordered_list(
            'counted_events.person_event_number', 'counted_events.person_event_number'
        ) }} as step_event_numbers
    from best_windows
    inner join counted_events
        on
            best_windows.funnel_name = counted_events.funnel_name
            and best_windows.person_id = counted_events.person_id
            and best_windows.start_event_number = counted_events.start_event_number
    group by best_windows.funnel_name, best_windows.person_id, best_windows.chain_length
)
{%- endmacro %}
