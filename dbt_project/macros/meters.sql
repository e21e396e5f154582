{#- A meter's value over a set of its events (one home for the aggregation rule, used per day and
    per billing period): count of events, sum or max of their values, distinct persons, or the
    value of the last event by time (ties by event id). Always an exact DECIMAL(38, 9). -#}
{% macro paw_meter_value(aggregation, value, person_id, event_timestamp, event_id) -%}
    cast(case {{ aggregation }}
        when 'count' then count(*)
        when 'sum' then sum({{ value }})
        when 'unique_persons' then count(distinct {{ person_id }})
        when 'max' then max({{ value }})
        when 'latest' then {{ paw_last_by(value, '(' ~ event_timestamp ~ ', ' ~ event_id ~ ')') }}
    end as decimal(38, 9))
{%- endmacro %}

{#- The aggregations that read a value property. -#}
{% macro paw_valued_aggregations() -%}
    ('sum', 'max', 'latest')
{%- endmacro %}
