{#- Exact seconds from `start` to `stop` (fractions kept), behind adapter.dispatch. -#}
{% macro paw_seconds_between(start, stop) -%}
    {{ return(adapter.dispatch('paw_seconds_between', 'paw')(start, stop)) }}
{%- endmacro %}

{% macro default__paw_seconds_between(start, stop) -%}
    ((epoch_us({{ stop }}) - epoch_us({{ start }})) / 1000000.0)
{%- endmacro %}

{#- A stable hash key from text parts. -#}
{% macro paw_hash_key(parts) -%}
    md5({% for part in parts %}coalesce(cast({{ part }} as varchar), ''){% if not loop.last %} || '|' || {% endif %}{% endfor %})
{%- endmacro %}

{#- The integers 0 .. upper - 1, one a row, as a subquery with the column `n`. -#}
{% macro paw_integer_spine(upper) -%}
    {{ return(adapter.dispatch('paw_integer_spine', 'paw')(upper)) }}
{%- endmacro %}

{% macro default__paw_integer_spine(upper) -%}
    (select cast(range as integer) as n from range(0, {{ upper }}))
{%- endmacro %}

{#- The start of the grain period ('day', 'week': ISO Monday, 'month') holding a date. -#}
{% macro paw_period_start(grain_column, date_column) -%}
    cast(case {{ grain_column }}
        when 'day' then {{ date_column }}
        when 'week' then {{ dbt.date_trunc('week', date_column) }}
        when 'month' then {{ dbt.date_trunc('month', date_column) }}
    end as date)
{%- endmacro %}

{#- The start of the period n grains after a period start. -#}
{% macro paw_period_add(grain_column, start_column, n) -%}
    cast(case {{ grain_column }}
        when 'day' then {{ dbt.dateadd('day', n, start_column) }}
        when 'week' then {{ dbt.dateadd('day', '7 * (' ~ n ~ ')', start_column) }}
        when 'month' then {{ dbt.dateadd('month', n, start_column) }}
    end as date)
{%- endmacro %}

{#- Whole periods from one period start to another. -#}
{% macro paw_periods_between(grain_column, start_column, stop_column) -%}
    cast(case {{ grain_column }}
        when 'day' then {{ dbt.datediff(start_column, stop_column, 'day') }}
        when 'week' then {{ dbt.datediff(start_column, stop_column, 'day') }} / 7
        when 'month' then {{ dbt.datediff(start_column, stop_column, 'month') }}
    end as integer)
{%- endmacro %}

{#- The value of `column` on the row with the smallest (largest) `order_column`, a unique key:
    NULL values of `column` count (the first row's value, even when NULL). -#}
{% macro paw_first_by(column, order_column) -%}
    {{ return(adapter.dispatch('paw_first_by', 'paw')(column, order_column)) }}
{%- endmacro %}

{% macro default__paw_first_by(column, order_column) -%}
    arg_min_null({{ column }}, {{ order_column }})
{%- endmacro %}

{% macro paw_last_by(column, order_column) -%}
    {{ return(adapter.dispatch('paw_last_by', 'paw')(column, order_column)) }}
{%- endmacro %}

{% macro default__paw_last_by(column, order_column) -%}
    arg_max_null({{ column }}, {{ order_column }})
{%- endmacro %}

{#- Cohort periods (retention, cohort revenue): period n of a cohort is emitted once it has
    started by the last activity date... -#}
{% macro paw_period_has_started(grain_column, cohort_start_column, n, last_date_column) -%}
    {{ n }} <= {{ paw_periods_between(
        grain_column, cohort_start_column, paw_period_start(grain_column, last_date_column)
    ) }}
{%- endmacro %}

{#- ... and is complete once it has ended by then (it ends the day before the next starts). -#}
{% macro paw_period_is_complete(grain_column, period_start_column, last_date_column) -%}
    {{ paw_period_add(grain_column, period_start_column, 1) }}
    <= {{ dbt.dateadd('day', 1, last_date_column) }}
{%- endmacro %}
