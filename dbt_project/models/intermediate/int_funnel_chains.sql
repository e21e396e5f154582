{#- Each person's best chain through each funnel, one row per step reached
    (docs/semantics.md, funnels). Every step is its own event.
    - ordered (ClickHouse's windowFunnel): the chains of paw_funnel_ordered_chains.
    - strict (its 'strict_order' mode): the same chains, read only up to where the funnel stops
      reading the person's activity: from their first step-1 event on, at the first activity
      event that matches no step, or matches only steps whose previous step has not been
      reached by then.
    - unordered (PostHog's): from every event matching a step, the window of
      conversion_window_seconds starting there; a person reaches step k when such a window holds
      events for k of the steps, in any order. Equal steps each need their own event.
    The best chain is the longest, then the one that started first. A person whose best chain
    holds an exclusion event (seeds/funnel_exclusions.csv) leaves the funnel.

    Incremental: a build replaces the chains of the persons whose activity changed
    (paw_changed_persons), read from their whole history. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='paw_replace_persons',
    on_schema_change='fail',
    paw_chunked=true,
) }}
-- depends_on: {{ ref('int_events_attributed') }}
with

{% if is_incremental() %}
step_events as (
    {{ paw_rows_changed(ref('int_funnel_step_events')) }}
),

activity as (
    {{ paw_rows_changed(ref('int_sessionized_activity')) }}
),
{% else %}
-- a full build is written in chunks of persons (macros/chunked_tables.sql)
step_events as not materialized (
    select * from {{ ref('int_funnel_step_events') }} as built
    where {{ paw_in_chunk('built.person_id') }}
),

activity as not materialized (
    select * from {{ ref('int_sessionized_activity') }} as built
    where {{ paw_in_chunk('built.person_id') }}
),
{% endif %}

funnels as not materialized (
    select * from {{ ref('stg_funnels') }}
),

funnel_steps as not materialized (
    select * from {{ ref('funnel_steps') }}
),

exclusions as not materialized (
    select * from {{ ref('funnel_exclusions') }}
),

events as not materialized (
    select * from {{ ref('stg_events') }}
),

ordered_step_events as (
    select
        step_events.*,
        funnels.conversion_window_seconds
    from step_events
    inner join funnels on step_events.funnel_name = funnels.funnel_name
    where funnels.order_mode in ('ordered', 'strict')
),

{{ paw_funnel_ordered_chains('ordered_step_events') }},

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
),

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
),

best_ordered_chains as (
    select *
    from read_chains
    qualify row_number() over (
        partition by funnel_name, person_id
        order by chain_length desc, step_event_numbers[1] asc
    ) = 1
),

best_chains as (
    select
        funnel_name,
        person_id,
        chain_length,
        step_reached_at,
        step_event_ids,
        step_event_numbers
    from best_ordered_chains
    union all
    select
        funnel_name,
        person_id,
        chain_length,
        step_reached_at,
        step_event_ids,
        step_event_numbers
    from unordered_chains
),

exclusion_events as (
    select
        activity.person_id,
        activity.person_event_number,
        activity.event_timestamp,
        events.event_name
    from activity
    inner join events on activity.event_id = events.event_id
    where events.event_name in (select exclusions.event_name from exclusions)
),

exclusion_candidates as (
    -- each person's exclusion events, per ordered or strict funnel, as one list: the chains
    -- below are checked against it in one pass, where a join of the chains to the events that
    -- exclude them read the chains (with their lists) twice, which DuckDB then holds whole in
    -- memory (docs/orchestration.md)
    select
        exclusions.funnel_name,
        exclusion_events.person_id,
        list({
            'from_step': exclusions.from_step,
            'to_step': exclusions.to_step,
            'event_number': exclusion_events.person_event_number,
            'event_at': exclusion_events.event_timestamp
        }) as exclusion_list
    from exclusions
    inner join funnels on exclusions.funnel_name = funnels.funnel_name
    inner join exclusion_events on exclusions.event_name = exclusion_events.event_name
    where funnels.order_mode in ('ordered', 'strict')
    group by exclusions.funnel_name, exclusion_events.person_id
),

kept_chains as (
    -- a chain is dropped when one of its person's exclusion events comes after its from_step
    -- event, and before its to_step event (or, when it did not reach it, until the end of the
    -- conversion window)
    select best_chains.*
    from best_chains
    inner join funnels on best_chains.funnel_name = funnels.funnel_name
    left join exclusion_candidates
        on
            best_chains.funnel_name = exclusion_candidates.funnel_name
            and best_chains.person_id = exclusion_candidates.person_id
    where not coalesce(
        list_bool_or(list_transform(
            exclusion_candidates.exclusion_list,
            excluding -> best_chains.chain_length >= excluding.from_step
            and excluding.event_number > best_chains.step_event_numbers[excluding.from_step]
            and (
                (
                    best_chains.chain_length >= excluding.to_step
                    and excluding.event_number
                    < best_chains.step_event_numbers[excluding.to_step]
                )
                or (
                    best_chains.chain_length < excluding.to_step
                    and {{ paw_seconds_between(
                        'best_chains.step_reached_at[1]', 'excluding.event_at'
                    ) }} <= funnels.conversion_window_seconds
                )
            )
        )),
        false
    )
),

final as (
    select
        kept_chains.funnel_name,
        kept_chains.person_id,
        cast(kept_chains.chain_length as integer) as max_step,
        steps.n as step_number,
        kept_chains.step_reached_at[steps.n] as reached_at,
        kept_chains.step_event_ids[steps.n] as event_id,
        {{ paw_built_at() }} as built_at
    from kept_chains
    inner join {{ paw_integer_spine(var('paw_funnel_max_steps') + 1) }} as steps
        on steps.n between 1 and kept_chains.chain_length
)

select * from final
