{#- The few generic tests paw needs (dbt packages cannot be fetched here). -#}

{#- Rows where the expression is false: each is a failure. -#}
{% test paw_expression_is_true(model, expression) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}

{#- Combinations of the columns that occur more than once. -#}
{% test paw_unique_combination(model, combination_of_columns) %}
select
    {{ combination_of_columns | join(', ') }},
    count(*) as occurrences
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- Values outside [min_value, max_value] (either bound may be left out). -#}
{% test paw_between(model, column_name, min_value=none, max_value=none) %}
select *
from {{ model }}
where
    {{ column_name }} is not null
    and (
        false
        {%- if min_value is not none %} or {{ column_name }} < {{ min_value }}{% endif %}
        {%- if max_value is not none %} or {{ column_name }} > {{ max_value }}{% endif %}
    )
{% endtest %}
