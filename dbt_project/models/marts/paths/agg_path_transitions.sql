{#- What comes after, and before, each node: every step of every session's path, from $start
    to $end (docs/semantics.md, paths). int_path_nodes carries each node's step to the next and
    whether the session took that step before, so one grouping by person counts them. -#}
with

path_nodes as not materialized (
    select * from {{ ref('int_path_nodes') }}
),

steps as not materialized (
    -- every node to the next, and a session's last node to $end
    select
        person_id,
        node as from_node,
        coalesce(next_node, '$end') as to_node,
        next_node,
        seconds_to_next_node,
        is_repeat_transition
    from path_nodes
),

person_edges as (
    -- a session's repeats of a step count among its transitions, once among its sessions;
    -- $start before each session's first node is once per session
    select
        from_node,
        to_node,
        person_id,
        count(*) as transitions,
        count(*) filter (where not is_repeat_transition) as sessions
    from steps
    group by from_node, to_node, person_id
    union all
    select
        '$start' as from_node,
        node as to_node,
        person_id,
        count(*) as transitions,
        count(*) as sessions
    from path_nodes
    where node_number = 1
    group by node, person_id
),

edge_counts as (
    select
        from_node,
        to_node,
        cast(sum(transitions) as bigint) as transitions,
        cast(sum(sessions) as bigint) as sessions,
        count(*) as persons
    from person_edges
    group by from_node, to_node
),

edge_medians as (
    -- only the steps between two nodes have a time
    select
        from_node,
        to_node,
        median(seconds_to_next_node) as median_seconds
    from steps
    where next_node is not null  -- not the name: an event may be named $end
    group by from_node, to_node
),

final as (
    select
        edge_counts.from_node,
        edge_counts.to_node,
        edge_counts.transitions,
        edge_counts.sessions,
        edge_counts.persons,
        edge_medians.median_seconds
    from edge_counts
    left join edge_medians
        on
            edge_counts.from_node = edge_medians.from_node
            and edge_counts.to_node = edge_medians.to_node
)

select * from final
