{#- A list of strings as a SQL list of quoted literals: ('a', 'b'). -#}
{% macro paw_quoted_list(values) -%}
    ({%- for value in values -%}
        {{ paw_quoted_literal(value) }}{{ ", " if not loop.last }}
    {%- endfor -%})
{%- endmacro %}

{#- A grouping's values as a list, in the order of `order_by` (ties by the value): a list of
    (order, value) pairs sorted after the grouping, which DuckDB does five times faster than an
    ordered aggregate (measured on the step lists of funnels at 10M: 0.55 s -> 0.10 s). -#}
{% macro paw_ordered_list(value, order_by) -%}
    list_transform(
        list_sort(list({'sort_key': {{ order_by }}, 'value': {{ value }}})),
        ordered_entry -> ordered_entry.value
    )
{%- endmacro %}

{#- A string as a SQL literal: 'it''s'. -#}
{% macro paw_quoted_literal(value) -%}
    '{{ value | replace("'", "''") }}'
{%- endmacro %}
