{#- Revenue by first-activity cohort: per week and month cohort and each period since, the
    purchase value (int_purchases, as RFM counts it) of the cohort's members in that period,
    and the cohort's lifetime value per person so far. Money is an exact DECIMAL. Periods that
    start after the last activity date are not emitted; a period that ends after it is
    incomplete. -#}
with

activity as not materialized (
    select * from {{ ref('int_sessionized_activity') }}
),

purchases as not materialized (
    select * from {{ ref('int_purchases') }}
),

grains as (
    select 'week' as cohort_grain
    union all
    select 'month' as cohort_grain
),

data_end as (
    select cast(max(event_timestamp) as date) as last_activity_date from activity
),

first_days as (
    select
        person_id,
        cast(min(event_timestamp) as date) as first_date
    from activity
    group by person_id
),

person_cohorts as (
    select
        first_days.person_id,
        grains.cohort_grain,
        {{ paw_period_start('grains.cohort_grain', 'first_days.first_date') }} as cohort_start
    from first_days
    cross join grains
),

cohort_sizes as (
    select
        cohort_grain,
        cohort_start,
        count(*) as cohort_size
    from person_cohorts
    group by cohort_grain, cohort_start
),

period_revenue as (
    select
        person_cohorts.cohort_grain,
        person_cohorts.cohort_start,
        {{ paw_periods_between(
            'person_cohorts.cohort_grain',
            'person_cohorts.cohort_start',
            paw_period_start('person_cohorts.cohort_grain', 'purchases.event_date')
        ) }} as period_number,
        sum(purchases.purchase_value) as revenue
    from person_cohorts
    inner join purchases on person_cohorts.person_id = purchases.person_id
    group by all
),

cohort_periods as (
    select
        cohort_sizes.cohort_grain,
        cohort_sizes.cohort_start,
        cohort_sizes.cohort_size,
        spine.n as period_number,
        {{ paw_period_add('cohort_sizes.cohort_grain', 'cohort_sizes.cohort_start', 'spine.n') }}
            as period_start
    from cohort_sizes
    cross join {{ paw_integer_spine(10000) }} as spine
    cross join data_end
    where
        {{ paw_period_has_started(
            'cohort_sizes.cohort_grain',
            'cohort_sizes.cohort_start',
            'spine.n',
            'data_end.last_activity_date'
        ) }}
),

with_revenue as (
    select
        cohort_periods.*,
        cast(coalesce(period_revenue.revenue, 0) as decimal(38, 9)) as revenue,
        sum(cast(coalesce(period_revenue.revenue, 0) as decimal(38, 9))) over (
            partition by cohort_periods.cohort_grain, cohort_periods.cohort_start
            order by cohort_periods.period_number
            rows between unbounded preceding and current row
        ) as cumulative_revenue
    from cohort_periods
    left join period_revenue
        on
            cohort_periods.cohort_grain = period_revenue.cohort_grain
            and cohort_periods.cohort_start = period_revenue.cohort_start
            and cohort_periods.period_number = period_revenue.period_number
),

final as (
    select
        with_revenue.cohort_grain,
        with_revenue.cohort_start,
        cast(with_revenue.period_number as integer) as period_number,
        with_revenue.cohort_size,
        with_revenue.revenue,
        cast(with_revenue.cumulative_revenue as decimal(38, 9)) as cumulative_revenue,
        {{ paw_money_divide('with_revenue.cumulative_revenue', 'with_revenue.cohort_size') }}
            as cumulative_revenue_per_person,
        {{ paw_period_is_complete(
            'with_revenue.cohort_grain', 'with_revenue.period_start', 'data_end.last_activity_date'
        ) }} as is_complete
    from with_revenue
    cross join data_end
)

select * from final
