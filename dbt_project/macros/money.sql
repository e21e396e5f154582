{#- An exact DECIMAL(38, 9) quotient of a DECIMAL(38, 9) amount by a positive whole count,
    rounded half up at the ninth decimal: DuckDB divides decimals as doubles, which is not
    exact for money. -#}
{% macro paw_money_divide(amount, count) -%}
    cast(
        (cast({{ amount }} * 1000000000 as hugeint) * 2 + ({{ count }}))
        // (2 * ({{ count }})) as decimal(38, 0)
    ) * cast(0.000000001 as decimal(10, 9))
{%- endmacro %}
