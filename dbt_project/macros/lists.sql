{#- A list of strings as a SQL list of quoted literals: ('a', 'b'). -#}
{% macro paw_quoted_list(values) -%}
    ({%- for value in values -%}
        '{{ value | replace("'", "''") }}'{{ ", " if not loop.last }}
    {%- endfor -%})
{%- endmacro %}
