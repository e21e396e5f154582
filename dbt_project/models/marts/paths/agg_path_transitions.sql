{#- What comes after, and before, each node: every step of every session's path, from $start
    to $end (docs/semantics.md, paths). -#}
with

path_nodes as not materialized (
    select * from {{ ref('int_path_nodes') }}
),

steps as materialized (
    -- every node to the next, and a session's last node to $end (it has no next): one join,
    -- written once for the counts and the medians
    select
        from_nodes.session_id,
        from_nodes.person_id,
        from_nodes.node as from_node,
        coalesce(to_nodes.node, '$end') as to_node,
        to_nodes.node_number is null as is_path_end,  -- never an event named $end
        cast(
            {{ paw_seconds_between('from_nodes.last_event_at', 'to_nodes.first_event_at') }}
            as double
        ) as seconds
    from path_nodes as from_nodes
    left join path_nodes as to_nodes
        on
            from_nodes.session_id = to_nodes.session_id
            and from_nodes.node_number + 1 = to_nodes.node_number
),

session_steps as (
    -- a session's steps between two nodes can repeat: counted per session, then per person
    -- (groupings DuckDB can spill to disk, where distinct counts over every transition held
    -- them all in memory: out of memory under 2 GB at 10M events)
    select
        from_node,
        to_node,
        session_id,
        any_value(person_id) as person_id,
        count(*) as transitions
    from steps
    where not is_path_end
    group by from_node, to_node, session_id
),

path_ends as (
    -- $start before each session's first node and $end after its last: once per session, so
    -- they need no counting per session
    select
        '$start' as from_node,
        node as to_node,
        person_id
    from path_nodes
    where node_number = 1
    union all
    select
        from_node,
        to_node,
        person_id
    from steps
    where is_path_end
),

person_edges as (
    select
        from_node,
        to_node,
        person_id,
        sum(transitions) as transitions,
        count(*) as sessions
    from session_steps
    group by from_node, to_node, person_id
    union all
    select
        from_node,
        to_node,
        person_id,
        count(*) as transitions,
        count(*) as sessions
    from path_ends
    group by from_node, to_node, person_id
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
    -- only the transitions between two nodes have a time
    select
        from_node,
        to_node,
        median(seconds) as median_seconds
    from steps
    where not is_path_end
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
