{#- Recency, frequency and monetary value per purchasing person, scored 1-5 (5 best) by
    percentile rank, so that equal values always get equal scores; segments from the R and F
    scores (docs/semantics.md has the grid). -#}
{%- set as_of = var('paw_rfm_as_of') %}
with

purchases as not materialized (
    select * from {{ ref('int_purchases') }}
),

events as not materialized (
    select * from {{ ref('stg_events') }}
),

as_of_date as (
    {%- if as_of %}
    select cast('{{ as_of }}' as date) as as_of_date
    {%- else %}
    select cast({{ dbt.dateadd('day', 1, 'max(event_date)') }} as date) as as_of_date
    from events
    {%- endif %}
),

per_person as (
    select
        person_id,
        max(event_date) as last_purchase_date,
        count(*) as frequency,
        sum(purchase_value) as monetary
    from purchases
    group by person_id
),

measured as (
    select
        per_person.*,
        {{ dbt.datediff('per_person.last_purchase_date', 'as_of_date.as_of_date', 'day') }}
            as recency_days
    from per_person
    cross join as_of_date
),

scored as (
    select
        *,
        cast(
            least(5, 1 + floor(5 * percent_rank() over (order by recency_days desc)))
            as integer
        ) as r_score,
        cast(
            least(5, 1 + floor(5 * percent_rank() over (order by frequency asc)))
            as integer
        ) as f_score,
        cast(
            least(5, 1 + floor(5 * percent_rank() over (order by monetary asc)))
            as integer
        ) as m_score
    from measured
),

final as (
    select
        person_id,
        last_purchase_date,
        cast(recency_days as integer) as recency_days,
        frequency,
        cast(monetary as decimal(38, 9)) as monetary,
        r_score,
        f_score,
        m_score,
        case
            when r_score = 5 and f_score >= 4 then 'Champions'
            when r_score between 3 and 4 and f_score >= 4 then 'Loyal Customers'
            when r_score between 4 and 5 and f_score between 2 and 3 then 'Potential Loyalist'
            when r_score = 5 and f_score = 1 then 'New Customers'
            when r_score = 4 and f_score = 1 then 'Promising'
            when r_score = 3 and f_score = 3 then 'Need Attention'
            when r_score = 3 and f_score between 1 and 2 then 'About To Sleep'
            when r_score between 1 and 2 and f_score between 3 and 4 then 'At Risk'
            when r_score between 1 and 2 and f_score = 5 then 'Can''t Lose Them'
            when r_score between 1 and 2 and f_score between 1 and 2 then 'Lost'
            else 'Others'
        end as rfm_segment
    from scored
)

select * from final
