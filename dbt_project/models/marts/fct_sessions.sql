with

sessionized as (
    select * from {{ ref('int_sessionized_activity') }}
),

page_views as (
    select
        session_id,
        page_path,
        row_number() over (
            partition by session_id order by event_timestamp, event_id
        ) as first_rank,
        row_number() over (
            partition by session_id order by event_timestamp desc, event_id desc
        ) as last_rank
    from sessionized
    where event_name in ('page_viewed', 'screen_viewed')
),

session_pages as (
    select
        session_id,
        max(case when first_rank = 1 then page_path end) as landing_page,
        max(case when last_rank = 1 then page_path end) as exit_page
    from page_views
    group by session_id
),

sessions as (
    select
        session_id,
        person_id,
        session_number,
        min(event_timestamp) as session_start,
        max(event_timestamp) as session_end,
        count(*) as event_count,
        count(case when event_name = 'page_viewed' then 1 end) as page_view_count,
        max(case when event_number_in_session = 1 then referrer end) as referrer,
        max(case when event_number_in_session = 1 then utm_source end) as utm_source,
        max(case when event_number_in_session = 1 then utm_medium end) as utm_medium,
        max(case when event_number_in_session = 1 then utm_campaign end) as utm_campaign,
        max(case when event_number_in_session = 1 then device_type end) as device_type,
        max(case when event_number_in_session = 1 then os_name end) as os_name,
        max(case when event_number_in_session = 1 then browser_name end) as browser_name
    from sessionized
    group by session_id, person_id, session_number
),

final as (
    select
        sessions.session_id,
        sessions.person_id,
        cast(sessions.session_number as integer) as session_number,
        sessions.session_start,
        sessions.session_end,
        {{ paw_seconds_between('sessions.session_start', 'sessions.session_end') }}
            as duration_seconds,
        sessions.event_count,
        sessions.page_view_count,
        session_pages.landing_page,
        session_pages.exit_page,
        sessions.referrer,
        sessions.utm_source,
        sessions.utm_medium,
        sessions.utm_campaign,
        sessions.event_count = 1 as is_bounce,
        sessions.device_type,
        sessions.os_name,
        sessions.browser_name
    from sessions
    left join session_pages on sessions.session_id = session_pages.session_id
)

select * from final
