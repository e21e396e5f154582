{#- One row per experiment and exposed person (the rules are in int_experiment_exposures). -#}
with

exposures as not materialized (
    select * from {{ ref('int_experiment_exposures') }}
),

final as (
    select
        experiment_key,
        person_id,
        variant,
        exposed_at,
        is_multiple_variant,
        converted,
        converted_at
    from exposures
)

select * from final
