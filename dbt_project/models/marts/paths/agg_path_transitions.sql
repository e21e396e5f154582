{#- What comes after, and before, each node: every step of every session's path, from $start
    to $end (docs/semantics.md, paths). -#}
with

path_nodes as not materialized (
    select * from {{ ref('int_path_nodes') }}
),

last_nodes as (
    select
        session_id,
        max(node_number) as last_number
    from path_nodes
    group by session_id
),

edges as (
    select
        session_id,
        person_id,
        '$start' as from_node,
        node as to_node,
        cast(null as double) as seconds
    from path_nodes
    where node_number = 1
    union all
    select
        from_nodes.session_id,
        from_nodes.person_id,
        from_nodes.node as from_node,
        to_nodes.node as to_node,
        cast(
            {{ paw_seconds_between('from_nodes.last_event_at', 'to_nodes.first_event_at') }}
            as double
        ) as seconds
    from path_nodes as from_nodes
    inner join path_nodes as to_nodes
        on
            from_nodes.session_id = to_nodes.session_id
            and from_nodes.node_number + 1 = to_nodes.node_number
    union all
    select
        path_nodes.session_id,
        path_nodes.person_id,
        path_nodes.node as from_node,
        '$end' as to_node,
        cast(null as double) as seconds
    from path_nodes
    inner join last_nodes
        on
            path_nodes.session_id = last_nodes.session_id
            and path_nodes.node_number = last_nodes.last_number
),

final as (
    select
        from_node,
        to_node,
        count(*) as transitions,
        count(distinct session_id) as sessions,
        count(distinct person_id) as persons,
        median(seconds) as median_seconds
    from edges
    group by from_node, to_node
)

select * from final
