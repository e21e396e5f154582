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
    (paw_changed_persons). Where a person's stored chain in an ordered or unordered funnel ended
    a conversion window or more before the change, it stays their best unless a longer chain
    starts later, so only their step events from one window before the change are read again;
    the others are read from their whole history. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='paw_replace_persons',
    on_schema_change='fail',
    paw_chunked=true,
) }}
-- depends_on: {{ ref('int_events_attributed') }}
with

funnels as not materialized (
    select * from {{ ref('stg_funnels') }}
),

{% if is_incremental() %}
changed_persons as (
    {{ paw_changed_persons() }}
),

stored_chains as (
    -- the stored best chain of each changed person in each funnel
    select
        stored.funnel_name,
        stored.person_id,
        any_value(stored.max_step) as max_step,
        -- its earliest event: the chain started there, or before (no later)
        min(stored.reached_at) as started_at
    from {{ this }} as stored
    where
        stored.person_id in (select changed.person_id from changed_persons as changed)
        and {{ paw_in_chunk('stored.person_id') }}
    group by stored.funnel_name, stored.person_id
),

bounded_chains as (
    -- the stored chains that ended a conversion window or more before their person changed:
    -- no chain that started that early can change, and the stored one is the best of them,
    -- so only the chains that start within the window before the change are read again
    -- (docs/orchestration.md, incremental builds). Strict funnels read a person's activity from
    -- their first step-1 event on, and are read again whole.
    select
        stored_chains.funnel_name,
        stored_chains.person_id,
        stored_chains.max_step,
        changed_persons.changed_from
    from stored_chains
    inner join changed_persons on stored_chains.person_id = changed_persons.person_id
    inner join funnels on stored_chains.funnel_name = funnels.funnel_name
    where
        funnels.order_mode in ('ordered', 'unordered')
        and {{ paw_seconds_between('stored_chains.started_at', 'changed_persons.changed_from') }}
        > funnels.conversion_window_seconds
),

changed_events as (
    {{ paw_rows_changed(ref('int_funnel_step_events')) }}
),

step_events as (
    select changed_step_events.*
    from changed_events as changed_step_events
    inner join funnels on changed_step_events.funnel_name = funnels.funnel_name
    left join bounded_chains
        on
            changed_step_events.funnel_name = bounded_chains.funnel_name
            and changed_step_events.person_id = bounded_chains.person_id
    where
        changed_step_events.step_number is not null
        and (
            bounded_chains.person_id is null
            or {{ paw_seconds_between(
                'changed_step_events.event_timestamp', 'bounded_chains.changed_from'
            ) }} <= funnels.conversion_window_seconds
        )
),

exclusion_events as (
    -- every exclusion event of the person: a chain read again is checked against them all
    select * from changed_events
    where changed_events.exclusion_from_step is not null
),
{% else %}
-- a full build is written in chunks of persons (macros/chunked_tables.sql)
funnel_events as not materialized (
    select * from {{ ref('int_funnel_step_events') }} as built
    where {{ paw_in_chunk('built.person_id') }}
),

step_events as not materialized (
    select * from funnel_events
    where funnel_events.step_number is not null
),

exclusion_events as not materialized (
    select * from funnel_events
    where funnel_events.exclusion_from_step is not null
),
{% endif %}

funnel_steps as not materialized (
    select * from {{ ref('funnel_steps') }}
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

{{ paw_funnel_strict_reads() }},

{{ paw_funnel_unordered_chains() }},

best_ordered_chains as (
    select *
    from read_chains
    qualify row_number() over (
        partition by funnel_name, person_id
        order by chain_length desc, step_event_numbers[1] asc
    ) = 1
),

computed_chains as (
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

best_chains as (
    select computed_chains.*
    from computed_chains
    {% if is_incremental() %}
        -- a chain read again for a bounded person is their best only when it is longer than
        -- the stored one, which started earlier
        left join bounded_chains
            on
                computed_chains.funnel_name = bounded_chains.funnel_name
                and computed_chains.person_id = bounded_chains.person_id
        where
            bounded_chains.person_id is null
            or computed_chains.chain_length > bounded_chains.max_step
    {% endif %}
),

exclusion_candidates as (
    -- each person's exclusion events, per ordered or strict funnel, as one list: the chains
    -- below are checked against it in one pass, where a join of the chains to the events that
    -- exclude them read the chains (with their lists) twice, which DuckDB then holds whole in
    -- memory (docs/orchestration.md)
    select
        exclusion_events.funnel_name,
        exclusion_events.person_id,
        list({
            'from_step': exclusion_events.exclusion_from_step,
            'to_step': exclusion_events.exclusion_to_step,
            'event_number': exclusion_events.person_event_number,
            'event_at': exclusion_events.event_timestamp
        }) as exclusion_list
    from exclusion_events
    inner join funnels on exclusion_events.funnel_name = funnels.funnel_name
    where funnels.order_mode in ('ordered', 'strict')
    group by exclusion_events.funnel_name, exclusion_events.person_id
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
    {% if is_incremental() %}
        union all
        -- a bounded person's stored chain, still their best (it passed the exclusions when
        -- it was built, and none of its events changed)
        select
            stored.funnel_name,
            stored.person_id,
            stored.max_step,
            stored.step_number,
            stored.reached_at,
            stored.event_id,
            {{ paw_built_at() }} as built_at
        from {{ this }} as stored
        inner join bounded_chains
            on
                stored.funnel_name = bounded_chains.funnel_name
                and stored.person_id = bounded_chains.person_id
        anti join best_chains
            on
                stored.funnel_name = best_chains.funnel_name
                and stored.person_id = best_chains.person_id
    {% endif %}
)

select * from final
