{#- Which node sessions reach at each step: step 1 is the first node after $start, up to
    paw_path_max_steps ($start and $end are not steps). -#}
with

path_nodes as not materialized (
    select * from {{ ref('int_path_nodes') }}
),

final as (
    select
        node_number as step_number,
        node,
        -- a session has one node per number (int_path_nodes' key): its rows are its sessions
        count(*) as sessions,
        count(distinct person_id) as persons
    from path_nodes
    where node_number <= {{ var('paw_path_max_steps') }}
    group by node_number, node
)

select * from final
