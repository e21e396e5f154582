{#- The rule of links over time, one home for anonymous ids and groups: on a timeline of links
    (row_kind 0) and events (row_kind 1) per `partition_column`, ordered by at_time with a link
    first at equal times ("at or before"), each row's latest link value at or before it
    (`before_alias`) and its first link value at or after it (`after_alias`). -#}
{% macro paw_links_before_and_after(partition_column, link_column, before_alias, after_alias) -%}
    last_value({{ link_column }} ignore nulls) over (
        partition by {{ partition_column }}
        order by at_time, row_kind, {{ link_column }}
        rows between unbounded preceding and current row
    ) as {{ before_alias }},
    first_value({{ link_column }} ignore nulls) over (
        partition by {{ partition_column }}
        order by at_time, row_kind, {{ link_column }}
        rows between current row and unbounded following
    ) as {{ after_alias }}
{%- endmacro %}
