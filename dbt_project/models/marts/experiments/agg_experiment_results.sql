{#- One row per experiment and variant, persons shown several variants excluded; the figures
    are computed by int_experiment_results (docs/semantics.md, experiments). -#}
with

results as not materialized (
    select * from {{ ref('int_experiment_results') }}
),

final as (
    select
        experiment_key,
        variant,
        is_control,
        persons,
        conversions,
        conversion_rate,
        lift,
        diff_ci_low,
        diff_ci_high,
        p_value,
        is_significant,
        multiple_variant_persons,
        srm_p_value,
        has_sample_ratio_mismatch,
        winner
    from results
)

select * from final
