{#- The funnel definitions with their defaults filled in: one home for what an empty
    optional column of seeds/funnels.csv means. -#}
with

funnels as (
    select * from {{ ref('funnels') }}
),

final as (
    select
        funnel_name,
        conversion_window_seconds,
        coalesce(nullif(trim(order_mode), ''), 'ordered') as order_mode,
        nullif(trim(breakdown_property), '') as breakdown_property
    from funnels
)

select * from final
